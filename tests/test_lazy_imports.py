"""Importing the realtime services stays cheap: nothing heavy loads and no protocol model builds early.

DESIGN.md section 8 wants ``import voxpipe.services.openai_realtime_beta`` under 0.3 s;
``bench/import_time.py`` prints the figure. These tests guard the reasons it is fast, without timing
anything: each runs the import in a fresh interpreter and looks at what it left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from voxpipe.realtime._base import ProtocolModel

SRC = Path(__file__).resolve().parents[1] / "src"
TRACES = Path(__file__).resolve().parent / "fixtures" / "realtime-traces"

HEAVY = (
    "numpy",
    "soxr",
    "websockets",
    "starlette",
    "uvicorn",
    "httpx",
    "openai",
    "sounddevice",
    "aiortc",
    "voxpipe.server",
    "voxpipe.transports",
    "voxpipe.audio",
)
"""Modules a realtime service needs only once it runs (or never, on the client side)."""

_REPORT = """
import json, sys
import {module}
import pydantic

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

models = [c for c in set(subclasses(pydantic.BaseModel)) if c.__module__.startswith("voxpipe.")]
print(json.dumps({{
    "modules": sorted(
        m for m in sys.modules if m.split(".")[0] in {heavy_roots!r} or m.startswith("voxpipe.")
    ),
    "models": len(models),
    "built": sorted(c.__qualname__ for c in models if c.__pydantic_complete__),
}}))
"""


def _run(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter with this checkout first on the path; return its JSON."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def _imported(module: str) -> dict[str, object]:
    heavy_roots = sorted({name.split(".")[0] for name in HEAVY if not name.startswith("voxpipe")})
    return _run(_REPORT.format(module=module, heavy_roots=heavy_roots))


def _loaded_heavy(modules: object) -> list[str]:
    assert isinstance(modules, list)
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


SERVICES = ("voxpipe.services.openai_realtime_beta", "voxpipe.services.openai_realtime")


@pytest.mark.parametrize("module", SERVICES)
def test_service_import_loads_nothing_heavy_and_builds_no_model(module: str) -> None:
    report = _imported(module)
    assert _loaded_heavy(report["modules"]) == []
    assert isinstance(report["models"], int) and report["models"] > 80  # the protocol models exist...
    assert report["built"] == []  # ...but none has built its validator yet


def test_beta_service_does_not_import_the_ga_models() -> None:
    report = _imported("voxpipe.services.openai_realtime_beta")
    assert isinstance(report["modules"], list)
    assert "voxpipe.realtime.ga" not in report["modules"]


def test_import_voxpipe_alone_loads_no_pydantic_and_no_submodule() -> None:
    code = "import json, sys, voxpipe; print(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    modules = json.loads(result.stdout)
    assert "pydantic" not in modules
    assert [m for m in modules if m.startswith("voxpipe.")] == []


def test_first_parse_builds_only_the_models_it_needs() -> None:
    code = _REPORT.format(module="voxpipe.services.openai_realtime_beta", heavy_roots=[]).replace(
        "import pydantic\n",
        "import pydantic\nfrom voxpipe.realtime import parse_server_event\n"
        'event = parse_server_event(\'{"type":"input_audio_buffer.speech_started","event_id":"e1",'
        '"audio_start_ms":5,"item_id":"item_1"}\')\n'
        "assert type(event).__name__ == 'InputAudioBufferSpeechStartedEvent' and event.audio_start_ms == 5\n",
    )
    report = _run(code)
    assert report["built"] == ["InputAudioBufferSpeechStartedEvent"]


def test_protocol_models_carry_evaluated_annotations() -> None:
    # A string annotation (``from __future__ import annotations``) makes pydantic compile and evaluate it
    # at class creation: ~540 of them made the beta models a third slower to define.
    import voxpipe.realtime.beta
    import voxpipe.realtime.ga  # noqa: F401

    def subclasses(cls: type) -> list[type]:
        found = []
        for sub in cls.__subclasses__():
            found += [sub, *subclasses(sub)]
        return found

    stringly = [
        f"{cls.__module__}.{cls.__qualname__}.{name}"
        for cls in subclasses(ProtocolModel)
        if cls.__module__.startswith("voxpipe.realtime.")
        for name, annotation in vars(cls).get("__annotations__", {}).items()
        if isinstance(annotation, str)
    ]
    assert stringly == []


_THREADED_FIRST_USE = """
import json, threading
import voxpipe.services.openai_realtime_beta
from voxpipe.realtime import SessionProperties, TurnDetection, parse_server_event

messages = json.loads({messages!r})
barrier = threading.Barrier(8)
results = {{}}

def work(index):
    barrier.wait()  # every thread meets the (unbuilt) models at the same moment
    parsed = [parse_server_event(text) for text in messages]
    built = SessionProperties(instructions="hi", turn_detection=TurnDetection(silence_duration_ms=300))
    results[index] = (
        [(type(e).__name__, e.model_dump(mode="json")) for e in parsed],
        built.to_json(),
    )

threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
again = [parse_server_event(text) for text in messages]
expected = (
    [(type(e).__name__, e.model_dump(mode="json")) for e in again],
    SessionProperties(instructions="hi", turn_detection=TurnDetection(silence_duration_ms=300)).to_json(),
)
same = [results[i] == expected for i in range(8)]
print(json.dumps({{"same": same, "types": [t for t, _ in expected[0]]}}))
"""


def test_models_built_by_many_threads_at_once_parse_as_when_built_alone() -> None:
    lines = (TRACES / "real" / "beta_samples_public.jsonl").read_text().splitlines()
    events = [json.loads(line)["event"] for line in lines if line.strip()]
    messages = [json.dumps(event, separators=(",", ":")) for event in events]
    report = _run(_THREADED_FIRST_USE.format(messages=json.dumps(messages)))
    assert report["same"] == [True] * 8
    types = report["types"]
    assert isinstance(types, list) and len(types) == len(messages)
    assert "UnknownServerEvent" not in types

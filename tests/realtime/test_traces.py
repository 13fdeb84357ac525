"""Replay every recorded and synthetic event of ``reference/realtime-traces`` through the parser.

Each event must parse as a known type of the file's shape, validate without the lenient fallback,
and re-serialise to the same JSON (modulo key order). Shapes per file come from the traces README.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from voxpipe.realtime import (
    ProtocolModel,
    UnknownClientEvent,
    UnknownServerEvent,
    parse_client_event,
    parse_server_event,
    serialize_event,
)
from voxpipe.realtime.beta import events as beta_events
from voxpipe.realtime.ga import events as ga_events

# file (relative to realtime-traces) -> shape, per the README.
TRACE_FILES: dict[str, str] = {
    "real/beta_samples_public.jsonl": "beta",
    "real/ga_openapi_examples_real_ids.jsonl": "ga",
    "real/ga_sip_gateway_samples.jsonl": "ga",
    "real/ga_sip_gateway_vad_turn_ordered.jsonl": "ga",
    "synthetic/beta_function_call_turn.jsonl": "beta",
    "synthetic/beta_interruption.jsonl": "beta",
    "synthetic/beta_server_vad_audio_turn.jsonl": "beta",
    "synthetic/ga_function_call_turn.jsonl": "ga",
}

TABLES = {
    ("beta", "server"): beta_events.SERVER_EVENT_TYPES,
    ("beta", "client"): beta_events.CLIENT_EVENT_TYPES,
    ("ga", "server"): ga_events.SERVER_EVENT_TYPES,
    ("ga", "client"): ga_events.CLIENT_EVENT_TYPES,
}


def _events(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(direction, event) pairs of one jsonl trace file, whatever its line format."""
    out: list[tuple[str, dict[str, Any]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        if "event" in obj:
            out.append((obj.get("dir", "server"), obj["event"]))
        else:
            out.append(("server", obj))
    return out


def _check_event(direction: str, event: dict[str, Any], shape: str) -> ProtocolModel:
    parse = parse_server_event if direction == "server" else parse_client_event
    parsed = parse(event, shape=shape)  # type: ignore[operator]
    assert not isinstance(parsed, UnknownServerEvent | UnknownClientEvent), event["type"]
    cls = TABLES[(shape, direction)][event["type"]]
    assert type(parsed) is cls
    # Validates for real (the lenient fallback would hide a model that disagrees with the trace).
    cls.model_validate(event)
    assert json.loads(serialize_event(parsed)) == event
    # Same result from the text path (fast path when "type" comes first).
    text = json.dumps(event, separators=(",", ":"))
    again = parse(text, shape=shape)  # type: ignore[operator]
    assert json.loads(serialize_event(again)) == event
    return parsed


@pytest.mark.parametrize("name", sorted(TRACE_FILES))
def test_trace_file_replays(traces_dir: Path, name: str) -> None:
    path = traces_dir / name
    if not path.exists():
        pytest.skip(f"{path} is missing")
    shape = TRACE_FILES[name]
    events = _events(path)
    assert events
    for direction, event in events:
        _check_event(direction, event, shape)


def test_every_trace_file_has_a_shape(traces_dir: Path) -> None:
    """A new jsonl file in the traces folder must be added to TRACE_FILES (with its shape)."""
    found = {str(p.relative_to(traces_dir)) for p in traces_dir.rglob("*.jsonl")}
    assert found <= set(TRACE_FILES)


_FRAME = re.compile(r"\s(S>C|C>S)\s+(?:TEXT\s+\d+ B\s+)?(\{.*\})\s*$")


def test_probe_frame_log_json_lines(traces_dir: Path) -> None:
    """The GA probe log is prose with JSON frames; every complete JSON frame must parse as GA."""
    path = traces_dir / "real" / "ga_llmgw_probe_frame_logs.txt"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    checked = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _FRAME.search(line)
        if match is None:
            continue
        try:
            event = json.loads(match.group(2))
        except json.JSONDecodeError:
            continue  # frames the author elided with "…"
        direction = "server" if match.group(1) == "S>C" else "client"
        if event.get("type") not in TABLES[("ga", direction)]:
            # The probe sent deliberately bad client events ({"type": "nope"}): kept, not raised.
            parse = parse_server_event if direction == "server" else parse_client_event
            assert isinstance(parse(event, shape="ga"), UnknownServerEvent | UnknownClientEvent)  # type: ignore[operator]
            continue
        _check_event(direction, event, "ga")
        checked += 1
    assert checked >= 5

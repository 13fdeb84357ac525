"""Speech-to-text over an OpenAI-compatible ``POST /audio/transcriptions`` (multipart WAV upload).

The endpoint takes a whole file, so the incremental stream **buffers**: ``feed`` appends the PCM and
``finish`` uploads it as one WAV and returns the transcript. There are no partials, and the time from
end of speech to transcript is one full round trip plus the backend's decoding; that is the price of a
remote STT without a streaming protocol.

What is sent: ``file`` (mono PCM16 WAV at ``sample_rate``, 16 kHz by default: what Whisper-family models
use), ``model`` (the engine's configured model, else the model the client asked for in
``input_audio_transcription``, else ``whisper-1``), ``language`` and ``prompt`` when set, and
``response_format: "json"``. The answer's ``text`` is the transcript; ``usage`` is passed on when the
backend reports tokens (``gpt-4o-transcribe`` does).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from typing import Any

from voxpipe.errors import VoxpipeStateError
from voxpipe.server.engines.base import (
    STTCapabilities,
    STTEngine,
    STTStream,
    Transcript,
    TranscriptionOptions,
    Usage,
)
from voxpipe.server.engines.http._client import BackendClient, BackendConfig
from voxpipe.server.engines.http._wav import pcm16_to_wav
from voxpipe.server.engines.http.errors import BackendProtocolError

__all__ = ["HTTPSTTEngine", "HTTPSTTStream"]

logger = logging.getLogger(__name__)

_DEFAULT_MODEL = "whisper-1"
_WHAT = "transcribing an utterance"


class _StreamState(enum.Enum):
    FEEDING = "feeding"
    FINISHED = "finished"


class HTTPSTTStream(STTStream):
    """Buffers one utterance and transcribes it in one request at ``finish`` (see the module docstring)."""

    def __init__(self, engine: HTTPSTTEngine, options: TranscriptionOptions) -> None:
        self.sample_rate = engine.capabilities.sample_rate
        self._engine = engine
        self._options = options
        self._audio = bytearray()
        self._state = _StreamState.FEEDING

    def feed(self, pcm16: bytes) -> None:
        """Append audio; no I/O."""
        if self._state is not _StreamState.FEEDING:
            raise VoxpipeStateError("HTTPSTTStream.feed called after finish(); make a new stream")
        self._audio += pcm16

    async def finish(self) -> Transcript:
        """Upload everything fed and return the transcript. Cancelling it cancels the request."""
        if self._state is not _StreamState.FEEDING:
            raise VoxpipeStateError("HTTPSTTStream.finish called twice; make a new stream per utterance")
        self._state = _StreamState.FINISHED
        audio, self._audio = bytes(self._audio), bytearray()
        return await self._engine.transcribe(audio, self._options)

    async def aclose(self) -> None:
        """Drop the buffered audio."""
        self._audio = bytearray()


class HTTPSTTEngine(STTEngine):
    """Transcriptions from an OpenAI-compatible server (Whisper servers, vLLM, OpenAI).

    Args:
        base_url: the API root; requests go to ``<base_url>/audio/transcriptions``.
        model: the model to ask for, or None to forward the client's choice (``whisper-1`` if none).
        api_key: sent as a bearer token; None for servers that need none.
        sample_rate: the rate ``feed`` and ``transcribe`` take, and of the uploaded WAV.
        timeout_s: longest wait for the answer (a long utterance takes the backend a while).
        connect_timeout_s: longest wait for a connection.
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key: str | None = None,
        sample_rate: int = 16_000,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self._client = BackendClient(
            BackendConfig("STT", base_url, model, api_key, timeout_s, connect_timeout_s)
        )
        self._model = model
        self.capabilities = STTCapabilities(sample_rate=sample_rate, partials=False, languages=None)

    def __repr__(self) -> str:
        return f"HTTPSTTEngine({self._client.url}, model={self._model!r})"

    async def warm_up(self) -> None:
        """Check once that the server answers (and accepts the key); problems are logged, not raised."""
        await self._client.probe()

    async def aclose(self) -> None:
        await self._client.aclose()

    def create_stream(self, options: TranscriptionOptions) -> STTStream:
        """A buffering stream for one utterance; cheap, no I/O."""
        return HTTPSTTStream(self, options)

    def form_fields(self, options: TranscriptionOptions) -> dict[str, str]:
        """The multipart fields besides the file."""
        fields = {"model": self._model or options.model or _DEFAULT_MODEL, "response_format": "json"}
        if self._model and options.model and options.model != self._model:
            logger.debug("stt: client asked for %s; using the configured %s", options.model, self._model)
        if options.language:
            fields["language"] = options.language
        if options.prompt:
            fields["prompt"] = options.prompt
        return fields

    async def transcribe(self, pcm16: bytes, options: TranscriptionOptions) -> Transcript:
        """Upload ``pcm16`` (at ``capabilities.sample_rate``) as a WAV and return its transcript.

        Raises:
            BackendError: the server failed, timed out or could not be reached.
        """
        rate = self.capabilities.sample_rate
        duration_s = len(pcm16) / 2 / rate
        wav = pcm16_to_wav(pcm16, rate)
        logger.debug("stt: POST %s/audio/transcriptions (%d bytes of WAV)", self._client.url, len(wav))
        answer = await self._client.request_json(
            "POST",
            "audio/transcriptions",
            _WHAT,
            data=self.form_fields(options),
            files={"file": ("audio.wav", wav, "audio/wav")},
        )
        if isinstance(answer, str):  # response_format ignored: plain text
            return Transcript(text=answer.strip(), language=options.language, duration_s=duration_s)
        if not isinstance(answer, Mapping) or not isinstance(answer.get("text"), str):
            raise BackendProtocolError(
                f"the STT backend at {self._client.url} answered without a 'text' field while {_WHAT}; "
                "check that it is an OpenAI-compatible transcription server",
                code="backend_bad_response",
            )
        language = answer.get("language")
        return Transcript(
            text=answer["text"].strip(),
            language=options.language or (language if isinstance(language, str) else None),
            duration_s=duration_s,
            usage=_usage(answer.get("usage")),
        )


def _usage(raw: Any) -> Usage | None:
    """OpenAI's token usage of a transcription; None for duration-based usage or none."""
    if not isinstance(raw, Mapping) or raw.get("type", "tokens") != "tokens" or "input_tokens" not in raw:
        return None
    return Usage(
        input_tokens=int(raw.get("input_tokens") or 0), output_tokens=int(raw.get("output_tokens") or 0)
    )

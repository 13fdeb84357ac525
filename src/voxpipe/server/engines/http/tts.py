"""Text-to-speech over an OpenAI-compatible ``POST /audio/speech``, streamed as the audio arrives.

``response_format: "pcm"`` (the default) is raw PCM16 mono, which OpenAI sends at 24 kHz: each piece of
the body leaves at once (cut to whole samples). ``"wav"`` is for servers without raw PCM: the header is
read as it streams in (``_wav``) and the samples after it leave the same way, resampled to
``sample_rate`` when the WAV's own rate differs, stereo mixed to mono.

Voices: every protocol voice name is sent as itself, which is what OpenAI expects. Other servers have
their own names (Kokoro's ``af_bella`` ...): ``voice`` sends one voice for every protocol name, and
``voices`` maps names one by one. ``speed`` (0.25..4.0) is sent as is. Closing the generator closes the
HTTP response at once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Literal

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines.audio import PCMResampler
from voxpipe.server.engines.base import PROTOCOL_VOICES, TTSCapabilities, TTSEngine
from voxpipe.server.engines.http._client import BackendClient, BackendConfig
from voxpipe.server.engines.http._wav import WavFormatError, WavStreamReader
from voxpipe.server.engines.http.errors import BackendProtocolError
from voxpipe.server.engines.local.tts import check_voice_and_speed

__all__ = ["HTTPTTSEngine"]

logger = logging.getLogger(__name__)

_WHAT = "synthesizing speech"
AudioFormat = Literal["pcm", "wav"]


class HTTPTTSEngine(TTSEngine):
    """Speech from an OpenAI-compatible server, streamed.

    Args:
        base_url: the API root; requests go to ``<base_url>/audio/speech``.
        model: the TTS model (``gpt-4o-mini-tts``, ``tts-1``, ``kokoro`` ...).
        api_key: sent as a bearer token; None for servers that need none.
        voice: one backend voice for every protocol voice name, or None to send the names as they are.
        voices: protocol voice name -> backend voice, applied after ``voice``.
        response_format: ``"pcm"`` (raw PCM16 at ``sample_rate``) or ``"wav"``.
        sample_rate: the rate of the PCM the backend sends (``pcm``: 24 kHz for OpenAI) or that the
            engine yields (``wav``: a WAV at another rate is resampled to it).
        timeout_s: longest wait for the first audio and between pieces.
        connect_timeout_s: longest wait for a connection.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        voice: str | None = None,
        voices: Mapping[str, str] | None = None,
        response_format: AudioFormat = "pcm",
        sample_rate: int = 24_000,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
    ) -> None:
        if response_format not in ("pcm", "wav"):
            raise VoxpipeUsageError(f"response_format must be 'pcm' or 'wav', got {response_format!r}")
        self._client = BackendClient(
            BackendConfig("TTS", base_url, model, api_key, timeout_s, connect_timeout_s)
        )
        self._model = model
        self._format = response_format
        voice_map = {name: voice or name for name in PROTOCOL_VOICES}
        voice_map.update(voices or {})
        self.capabilities = TTSCapabilities(sample_rate=sample_rate, voices=voice_map, streaming=True)

    def __repr__(self) -> str:
        return f"HTTPTTSEngine({self._client.url}, model={self._model!r}, format={self._format!r})"

    async def warm_up(self) -> None:
        """Check once that the server answers (and accepts the key); problems are logged, not raised."""
        await self._client.probe()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def stream(self, text: str, voice: str, speed: float = 1.0) -> AsyncIterator[bytes]:
        """Yield PCM16 mono at ``sample_rate`` as the backend sends it; nothing for blank text.

        Raises:
            VoxpipeUsageError: an unknown voice, or a speed outside 0.25..4.0.
            BackendError: the server failed, timed out, could not be reached, or sent a bad WAV.
        """
        backend_voice = check_voice_and_speed(self.capabilities, voice, speed)
        if not text.strip():
            return
        body = {
            "model": self._model,
            "input": text,
            "voice": backend_voice,
            "response_format": self._format,
            "speed": speed,
        }
        logger.debug("tts: POST %s/audio/speech (%d characters)", self._client.url, len(text))
        async with self._client.stream("POST", "audio/speech", _WHAT, json=body) as response:
            pieces = response.aiter_bytes()
            if self._format == "pcm":
                carry = b""
                async for piece in pieces:
                    data = carry + piece
                    whole = len(data) - len(data) % 2
                    carry = data[whole:]
                    if whole:
                        yield data[:whole]
                return
            reader = WavStreamReader()
            resampler: PCMResampler | None = None
            try:
                async for piece in pieces:
                    pcm = reader.feed(piece)
                    if resampler is None and reader.sample_rate is not None:
                        resampler = PCMResampler(reader.sample_rate, self.capabilities.sample_rate)
                    if pcm and resampler is not None:
                        out = resampler.process(pcm)
                        if out:
                            yield out
            except WavFormatError as exc:
                raise BackendProtocolError(
                    f"the TTS backend at {self._client.url} sent a WAV that cannot be used ({exc}); use "
                    "response_format 'pcm' or a server that sends 16-bit PCM WAV",
                    code="backend_bad_response",
                ) from exc
            if resampler is not None and (tail := resampler.flush()):
                yield tail

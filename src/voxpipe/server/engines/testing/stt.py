"""A deterministic speech-to-text engine: reads back the test TTS's tones, or describes the audio.

Resolution order for one utterance: a transcript registered for the exact audio (``transcripts``, keyed
by the SHA-256 hex digest of the PCM16 bytes at 24 kHz), then the tone alphabet of
``voxpipe.server.engines.testing.tones`` (audio made by the test TTS transcribes to its text, lower
case), then ``"<N ms of audio>"``. ``partial`` decodes what was fed so far, which semantic VAD uses.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping

from voxpipe.errors import VoxpipeStateError
from voxpipe.server.engines.base import STTEngine, STTStream
from voxpipe.server.engines.testing.tones import SAMPLE_RATE, decode_tones
from voxpipe.server.engines.types import STTCapabilities, Transcript, TranscriptionOptions, Usage

__all__ = ["ToneSTTEngine", "ToneSTTStream"]


class _StreamState(enum.Enum):
    FEEDING = "feeding"
    FINISHED = "finished"


class ToneSTTStream(STTStream):
    """Collects one utterance and transcribes it at ``finish``."""

    def __init__(self, engine: ToneSTTEngine) -> None:
        self.sample_rate = SAMPLE_RATE
        self._engine = engine
        self._audio = bytearray()
        self._state = _StreamState.FEEDING

    def feed(self, pcm16: bytes) -> None:
        """Append audio."""
        if self._state is not _StreamState.FEEDING:
            raise VoxpipeStateError("ToneSTTStream.feed called after finish(); make a new stream")
        self._audio += pcm16

    async def partial(self) -> str | None:
        """The tones decoded so far, or None."""
        return decode_tones(bytes(self._audio))

    async def snapshot(self) -> str | None:
        """What ``finish`` would return now."""
        return self._engine.transcribe_now(bytes(self._audio)).text

    async def finish(self) -> Transcript:
        """The transcript of everything fed."""
        self._state = _StreamState.FINISHED
        return self._engine.transcribe_now(bytes(self._audio))


class ToneSTTEngine(STTEngine):
    """Deterministic STT (see the module docstring).

    Args:
        transcripts: SHA-256 hex digest of PCM16 24 kHz audio -> its transcript.
    """

    def __init__(self, transcripts: Mapping[str, str] | None = None) -> None:
        self.capabilities = STTCapabilities(sample_rate=SAMPLE_RATE, partials=True, languages=None)
        self._transcripts = dict(transcripts or {})

    def create_stream(self, options: TranscriptionOptions) -> STTStream:
        """A fresh utterance."""
        return ToneSTTStream(self)

    async def transcribe(self, pcm16: bytes, options: TranscriptionOptions) -> Transcript:
        """Transcribe a whole utterance."""
        return self.transcribe_now(pcm16)

    def transcribe_now(self, pcm16: bytes) -> Transcript:
        """The synchronous core of ``transcribe`` (cheap: one FFT per 30 ms)."""
        duration_s = len(pcm16) / 2 / SAMPLE_RATE
        text = self._transcripts.get(hashlib.sha256(pcm16).hexdigest())
        if text is None:
            text = decode_tones(pcm16)
        if text is None:
            text = f"<{round(duration_s * 1000)} ms of audio>"
        words = len(text.split())
        return Transcript(text=text, language="en", duration_s=duration_s, usage=Usage(words, words))

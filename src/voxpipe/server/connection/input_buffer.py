"""The input audio buffer of one session, on the session's audio clock, with its engine-rate copy.

Audio is PCM16 24 kHz (``AudioDecoder`` made it so). The *clock* counts every millisecond ever appended
in the session and never goes back: ``audio_start_ms`` / ``audio_end_ms`` of the VAD events are on it,
as OpenAI's are ("from the start of all audio written to the buffer during the session"). The buffer
itself holds only the audio since the last commit or clear; while turn detection hears silence the
session trims it to the prefix padding, so a long silence costs no memory.

The engines take another rate (Silero VAD and Whisper: 16 kHz). The buffer resamples each append once,
here, and keeps the engine-rate audio beside the 24 kHz audio, trimmed with it: the VAD and the STT are fed
from that one stream, and the audio a new utterance starts with (the prefix padding before
``speech_started``) is taken from the engine-rate history, at the engine rate, like the rest.
"""

from __future__ import annotations

from voxpipe.audio import StreamResampler
from voxpipe.server.connection.conversation import BYTES_PER_MS
from voxpipe.server.connection.errors import ProtocolError

__all__ = ["InputAudioBuffer"]

_RATE = 24_000


class InputAudioBuffer:
    """Audio appended since the last commit or clear, at 24 kHz and at ``engine_rate``.

    Args:
        max_ms: appends that would make the buffer longer are refused (``input_audio_buffer_too_large``).
        engine_rate: the rate of the engine-rate copy (24 kHz: the copy is the audio itself).
    """

    def __init__(self, max_ms: int, engine_rate: int = _RATE) -> None:
        self._max_bytes = max_ms * BYTES_PER_MS
        self._audio = bytearray()
        self._start_byte = 0  # clock position (in bytes) of self._audio[0]
        self.engine_rate = engine_rate
        self._resampler = StreamResampler(_RATE, engine_rate, quality="QQ") if engine_rate != _RATE else None
        self._engine = bytearray()
        self._engine_start = 0  # engine-rate samples of the session before self._engine[0]

    @property
    def clock_ms(self) -> int:
        """Milliseconds of audio appended in the whole session."""
        return (self._start_byte + len(self._audio)) // BYTES_PER_MS

    @property
    def start_ms(self) -> int:
        """Clock time of the first byte held."""
        return self._start_byte // BYTES_PER_MS

    @property
    def duration_ms(self) -> int:
        """Milliseconds held."""
        return len(self._audio) // BYTES_PER_MS

    @property
    def nbytes(self) -> int:
        """Bytes held (at 24 kHz)."""
        return len(self._audio)

    def append(self, pcm24k: bytes) -> bytes:
        """Add audio at the end; returns the same audio at ``engine_rate`` (what the engines are fed).

        Raises:
            ProtocolError: the buffer would exceed its limit; nothing is added.
        """
        if len(self._audio) + len(pcm24k) > self._max_bytes:
            raise ProtocolError(
                f"The input audio buffer holds {self.duration_ms} ms, and this append would exceed the "
                f"limit of {self._max_bytes // BYTES_PER_MS} ms. Commit or clear it first.",
                code="input_audio_buffer_too_large",
                param="audio",
            )
        self._audio += pcm24k
        if self._resampler is None:
            return pcm24k
        converted = self._resampler.process(pcm24k)
        self._engine += converted
        return converted

    def since(self, clock_ms: int) -> bytes:
        """The audio held from clock time ``clock_ms`` (or the start of the buffer) to the end."""
        offset = max(0, clock_ms * BYTES_PER_MS - self._start_byte)
        return bytes(self._audio[offset:])

    def engine_since(self, clock_ms: int) -> bytes:
        """``since(clock_ms)`` at ``engine_rate``, from the engine-rate copy (no resampling)."""
        if self._resampler is None:
            return self.since(clock_ms)
        offset = max(0, clock_ms * self.engine_rate // 1000 - self._engine_start) * 2
        return bytes(self._engine[offset:])

    def take(self, from_ms: int | None = None) -> bytes:
        """Empty the buffer and return its audio (from clock time ``from_ms`` if given)."""
        audio = self.since(from_ms) if from_ms is not None else bytes(self._audio)
        self.clear()
        return audio

    def clear(self) -> None:
        """Drop everything held; the clock goes on."""
        self._start_byte += len(self._audio)
        self._audio.clear()
        self._trim_engine()

    def keep_last(self, ms: int) -> None:
        """Drop all but the last ``ms`` milliseconds (the prefix padding kept during silence)."""
        excess = len(self._audio) - ms * BYTES_PER_MS
        if excess > 0:
            del self._audio[:excess]
            self._start_byte += excess
            self._trim_engine()

    def _trim_engine(self) -> None:
        """Drop the engine-rate audio from before the first 24 kHz sample held."""
        if self._resampler is None:
            return
        first = self._start_byte // 2 * self.engine_rate // _RATE
        drop = min(first - self._engine_start, len(self._engine) // 2)
        if drop > 0:
            del self._engine[: drop * 2]
            self._engine_start += drop

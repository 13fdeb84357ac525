"""The input audio buffer of one session, on the session's audio clock.

Audio is PCM16 24 kHz (``AudioDecoder`` made it so). The *clock* counts every millisecond ever appended
in the session and never goes back: ``audio_start_ms`` / ``audio_end_ms`` of the VAD events are on it,
as OpenAI's are ("from the start of all audio written to the buffer during the session"). The buffer
itself holds only the audio since the last commit or clear; while turn detection hears silence the
session trims it to the prefix padding, so a long silence costs no memory.
"""

from __future__ import annotations

from voxpipe.server.connection.conversation import BYTES_PER_MS
from voxpipe.server.connection.errors import ProtocolError

__all__ = ["InputAudioBuffer"]


class InputAudioBuffer:
    """Audio appended since the last commit or clear.

    Args:
        max_ms: appends that would make the buffer longer are refused (``input_audio_buffer_too_large``).
    """

    def __init__(self, max_ms: int) -> None:
        self._max_bytes = max_ms * BYTES_PER_MS
        self._audio = bytearray()
        self._start_byte = 0  # clock position (in bytes) of self._audio[0]

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
        """Bytes held."""
        return len(self._audio)

    def append(self, pcm24k: bytes) -> None:
        """Add audio at the end.

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

    def since(self, clock_ms: int) -> bytes:
        """The audio held from clock time ``clock_ms`` (or the start of the buffer) to the end."""
        offset = max(0, clock_ms * BYTES_PER_MS - self._start_byte)
        return bytes(self._audio[offset:])

    def take(self, from_ms: int | None = None) -> bytes:
        """Empty the buffer and return its audio (from clock time ``from_ms`` if given)."""
        audio = self.since(from_ms) if from_ms is not None else bytes(self._audio)
        self.clear()
        return audio

    def clear(self) -> None:
        """Drop everything held; the clock goes on."""
        self._start_byte += len(self._audio)
        self._audio.clear()

    def keep_last(self, ms: int) -> None:
        """Drop all but the last ``ms`` milliseconds (the prefix padding kept during silence)."""
        excess = len(self._audio) - ms * BYTES_PER_MS
        if excess > 0:
            del self._audio[:excess]
            self._start_byte += excess

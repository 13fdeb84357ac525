"""Cut a PCM stream into chunks of a fixed duration, plus size/duration arithmetic and silence.

Audio arrives in whatever sizes the source likes (a socket read, a TTS burst, a WAV block), but consumers
want steady pieces: 20 ms for a telephone media stream, 10 ms for a VAD, about 100 ms per Realtime
``input_audio_buffer.append``. ``Rechunker`` regroups bytes into exactly-sized chunks and keeps the
remainder for the next call. Chunk sizes are always whole frames, so no sample is ever split across chunks.
"""

from __future__ import annotations

from voxpipe.audio._checks import check_channels, check_rate, check_sample_width
from voxpipe.errors import VoxpipeUsageError

__all__ = ["Rechunker", "bytes_per_ms", "duration_ms", "frames_for_ms", "silence"]


def bytes_per_ms(sample_rate: int, channels: int = 1, sample_width: int = 2) -> float:
    """Bytes of PCM per millisecond; a float because 44.1 kHz gives 88.2 bytes/ms for 16-bit mono.

    Raises:
        VoxpipeUsageError: a bad rate, channel count or sample width.
    """
    check_rate(sample_rate)
    check_channels(channels)
    check_sample_width(sample_width)
    return sample_rate * channels * sample_width / 1000.0


def frames_for_ms(ms: int, sample_rate: int) -> int:
    """Number of frames (samples per channel) in exactly ``ms`` milliseconds.

    Raises:
        VoxpipeUsageError: ``ms`` is not a positive int, or it does not hold a whole number of samples at
            this rate (1 ms at 44.1 kHz is 44.1 samples; 10 ms multiples fit every common rate).
    """
    check_rate(sample_rate)
    if isinstance(ms, bool) or not isinstance(ms, int) or ms <= 0:
        raise VoxpipeUsageError(f"the duration must be a positive int of milliseconds (like 20), got {ms!r}")
    frames, rest = divmod(ms * sample_rate, 1000)
    if rest:
        raise VoxpipeUsageError(
            f"{ms} ms at {sample_rate} Hz is {ms * sample_rate / 1000} samples, not a whole number; "
            "use a multiple of 10 ms"
        )
    return frames


def duration_ms(nbytes: int, sample_rate: int, channels: int = 1, sample_width: int = 2) -> float:
    """Duration in milliseconds of ``nbytes`` of PCM.

    Raises:
        VoxpipeUsageError: ``nbytes`` is negative or not a whole number of frames, or a bad format.
    """
    frame_bytes = check_channels(channels) * check_sample_width(sample_width)
    check_rate(sample_rate)
    if nbytes < 0 or nbytes % frame_bytes:
        raise VoxpipeUsageError(
            f"{nbytes} bytes is not a whole number of {frame_bytes}-byte frames "
            f"({channels} channel(s) of {sample_width} byte(s)); check the format you declared"
        )
    return nbytes // frame_bytes * 1000.0 / sample_rate


def silence(ms: float, sample_rate: int, channels: int = 1, sample_width: int = 2) -> bytes:
    """Signed linear PCM silence (zero bytes) lasting ``ms`` milliseconds, rounded to the nearest frame.

    Not for G.711: μ-law silence is ``0xFF`` bytes and A-law ``0xD5``; encode this with ``ulaw_encode``.

    Raises:
        VoxpipeUsageError: ``ms`` is negative, or a bad format.
    """
    frame_bytes = check_channels(channels) * check_sample_width(sample_width)
    check_rate(sample_rate)
    if ms < 0:
        raise VoxpipeUsageError(f"silence needs a duration of at least 0 ms, got {ms}")
    return bytes(round(ms * sample_rate / 1000) * frame_bytes)


class Rechunker:
    """Regroup a stream of PCM bytes into chunks of exactly ``chunk_ms`` milliseconds.

    Input may be any size, even a part of a sample (the rest of it may come in the next call); the bytes
    that do not fill a chunk wait in the buffer. Concatenating everything ``push`` returns and then
    ``flush`` gives back exactly the bytes pushed.

    Args:
        chunk_ms: chunk duration; must be a whole number of samples at ``sample_rate`` (10 ms multiples are).
        sample_rate: rate of the audio, in Hz.
        channels: interleaved channels.
        sample_width: bytes per sample (2 for PCM16, 1 for G.711 codes).
        pad_byte: the byte ``flush(pad=True)`` fills with: ``0`` for linear PCM, ``0xFF`` for μ-law,
            ``0xD5`` for A-law.

    Raises:
        VoxpipeUsageError: a bad duration, rate, channel count, width or pad byte.
    """

    def __init__(
        self,
        chunk_ms: int,
        sample_rate: int,
        channels: int = 1,
        sample_width: int = 2,
        *,
        pad_byte: int = 0,
    ) -> None:
        self._frame_bytes = check_channels(channels) * check_sample_width(sample_width)
        self._chunk_bytes = frames_for_ms(chunk_ms, sample_rate) * self._frame_bytes
        if isinstance(pad_byte, bool) or not isinstance(pad_byte, int) or not 0 <= pad_byte <= 255:
            raise VoxpipeUsageError(f"pad_byte must be an int from 0 to 255, got {pad_byte!r}")
        self._pad_byte = pad_byte
        self._chunk_ms = chunk_ms
        self._buffer = bytearray()

    def __repr__(self) -> str:
        return f"Rechunker({self._chunk_ms} ms = {self._chunk_bytes} bytes, pending={len(self._buffer)})"

    @property
    def chunk_bytes(self) -> int:
        """Size in bytes of every chunk ``push`` returns."""
        return self._chunk_bytes

    @property
    def pending_bytes(self) -> int:
        """Bytes waiting for the next chunk to fill."""
        return len(self._buffer)

    def push(self, pcm: bytes | bytearray | memoryview) -> list[bytes]:
        """Add bytes to the stream and return every chunk that is now complete.

        Args:
            pcm: the next bytes of the stream, any length.

        Returns:
            Zero or more chunks of exactly ``chunk_bytes`` bytes, in stream order.

        Raises:
            VoxpipeUsageError: ``pcm`` is not bytes-like.
        """
        if not isinstance(pcm, bytes | bytearray | memoryview):
            raise VoxpipeUsageError(f"push() takes bytes, got {type(pcm).__name__}")
        buffer = self._buffer
        size = self._chunk_bytes
        if not buffer and len(pcm) == size:  # the common case: input already in the right size
            return [bytes(pcm)]
        buffer += pcm
        full = len(buffer) - len(buffer) % size
        if not full:
            return []
        chunks = [bytes(buffer[start : start + size]) for start in range(0, full, size)]
        del buffer[:full]
        return chunks

    def flush(self, pad: bool = False) -> bytes:
        """Return what is left in the buffer (shorter than a chunk, possibly empty) and empty it.

        Args:
            pad: fill the remainder up to a full chunk with ``pad_byte`` (silence), for consumers that
                only take full chunks. An empty buffer stays empty.

        Returns:
            The remaining bytes, whole frames.

        Raises:
            VoxpipeUsageError: the stream ended inside a frame (its length was not a whole number of
                frames); the buffer is emptied anyway so the rechunker can be reused.
        """
        rest = bytes(self._buffer)
        self._buffer.clear()
        if len(rest) % self._frame_bytes:
            raise VoxpipeUsageError(
                f"the stream ended inside a sample: {len(rest) % self._frame_bytes} stray byte(s) after the "
                f"last whole {self._frame_bytes}-byte frame; the producer sent a truncated buffer"
            )
        if pad and rest:
            rest += bytes([self._pad_byte]) * (self._chunk_bytes - len(rest))
        return rest

    def reset(self) -> None:
        """Drop the buffered bytes (after an interruption, say), without returning them."""
        self._buffer.clear()

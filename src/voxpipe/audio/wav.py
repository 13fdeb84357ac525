"""Read and write WAV files as 16-bit PCM, all at once or (``WavWriter``) as the audio arrives.

Built on the stdlib ``wave`` module, which handles RIFF/WAVE with integer PCM (format tag 1). Reading
converts 8-, 24- and 32-bit integer PCM to 16-bit, since everything else in voxpipe is 16-bit; float,
compressed or otherwise unreadable files raise ``UnsupportedWavError`` naming the problem.

Errors (under ``voxpipe.errors``)::

    VoxpipeUsageError
    └── UnsupportedWavError   -- the file is not a WAV this module can read
"""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass
from types import TracebackType
from typing import BinaryIO, Self, TypeAlias

import numpy as np

from voxpipe.audio._checks import check_channels, check_pcm, check_rate
from voxpipe.audio.pcm import PCM16
from voxpipe.errors import VoxpipeStateError, VoxpipeUsageError

__all__ = ["UnsupportedWavError", "WavAudio", "WavWriter", "read_wav", "write_wav"]

#: Where a WAV can be read from or written to: a path, or a binary file object.
WavTarget: TypeAlias = str | os.PathLike[str] | BinaryIO


class UnsupportedWavError(VoxpipeUsageError):
    """The file is not a RIFF/WAVE file with integer PCM of 8, 16, 24 or 32 bits."""


@dataclass(frozen=True, slots=True)
class WavAudio:
    """The audio of a WAV file, as 16-bit PCM.

    Attributes:
        pcm: interleaved 16-bit little-endian samples.
        sample_rate: frames per second.
        channels: interleaved channels.
        sample_width: bytes per sample in ``pcm``; always 2 (files of other widths are converted on read).
    """

    pcm: bytes
    sample_rate: int
    channels: int
    sample_width: int = 2

    @property
    def num_frames(self) -> int:
        """Samples per channel."""
        return len(self.pcm) // (self.sample_width * self.channels)

    @property
    def duration_ms(self) -> float:
        """Length of the audio in milliseconds."""
        return self.num_frames * 1000.0 / self.sample_rate


def _open_arg(target: WavTarget) -> str | BinaryIO:
    """What ``wave.open`` takes: it opens ``str`` paths itself but mistakes a ``Path`` for a file object."""
    if isinstance(target, str | os.PathLike):
        return os.fspath(target)
    return target


def _to_pcm16(raw: bytes, width: int) -> bytes:
    """Convert little-endian integer PCM of ``width`` bytes per sample to 16-bit, keeping the top bits."""
    if width == 2:
        return raw
    data = np.frombuffer(raw, dtype=np.uint8)
    if width == 1:  # 8-bit WAV is unsigned, centred on 128
        return ((data.astype(np.int16) - 128) << 8).astype(PCM16).tobytes()
    # 24- and 32-bit: the two most significant bytes of each little-endian sample are a 16-bit sample.
    top = data.reshape(-1, width)[:, width - 2 :]
    return np.ascontiguousarray(top).tobytes()


def read_wav(source: WavTarget) -> WavAudio:
    """Read a whole WAV file and return its audio as 16-bit PCM at the file's own rate and channels.

    Args:
        source: a path, or a binary file object positioned at the start of the RIFF header.

    Returns:
        The audio; 8-, 24- and 32-bit integer files are converted to 16-bit (24/32-bit are truncated to
        their top 16 bits, 8-bit is re-centred from unsigned).

    Raises:
        UnsupportedWavError: not a RIFF/WAVE file, a non-PCM format (float, μ-law, ADPCM, ...), or a sample
            width other than 8, 16, 24 or 32 bits.
        FileNotFoundError: the path does not exist (other ``OSError`` s pass through too).
    """
    opened = _open_arg(source)
    name = opened if isinstance(opened, str) else getattr(source, "name", "<stream>")
    try:
        with wave.open(opened, "rb") as w:
            width = w.getsampwidth()
            rate = w.getframerate()
            channels = w.getnchannels()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise UnsupportedWavError(
            f"cannot read {name!s} as a WAV file: {exc}. voxpipe reads RIFF/WAVE with integer PCM "
            "(format tag 1) of 8, 16, 24 or 32 bits; convert it first, e.g. "
            "`sox in.wav -b 16 -e signed-integer out.wav`"
        ) from exc
    if width not in (1, 2, 3, 4):
        raise UnsupportedWavError(f"{name!s} has {width * 8}-bit samples; voxpipe reads 8, 16, 24 or 32 bits")
    if rate <= 0 or channels <= 0:
        raise UnsupportedWavError(
            f"{name!s} declares {rate} Hz and {channels} channel(s); the header is broken"
        )
    raw = raw[: len(raw) - len(raw) % (width * channels)]  # a truncated last frame is dropped
    return WavAudio(pcm=_to_pcm16(raw, width), sample_rate=rate, channels=channels)


def write_wav(
    target: WavTarget, pcm: bytes | bytearray | memoryview, sample_rate: int, channels: int = 1
) -> None:
    """Write 16-bit PCM to a WAV file in one go.

    Args:
        target: a path (created or overwritten) or a binary file object (seekable or not).
        pcm: interleaved 16-bit little-endian PCM, whole frames.
        sample_rate: rate of ``pcm`` in Hz.
        channels: interleaved channels in ``pcm``.

    Raises:
        VoxpipeUsageError: a bad rate or channel count, or ``pcm`` not whole frames.
    """
    with WavWriter(target, sample_rate, channels) as writer:
        writer.write(pcm)


class WavWriter:
    """Write a 16-bit PCM WAV file piece by piece, as audio arrives (a WAV output transport, a recorder).

    The header's sizes are rewritten after every ``write`` when the target is seekable, so a file cut off
    by a crash still opens with everything written so far; ``close`` writes them a final time. Writing is
    blocking file I/O: from async code, call it through ``asyncio.to_thread`` if the disk may be slow.

    Args:
        target: a path (created or overwritten) or a binary file object, which the writer does not close.
        sample_rate: rate of the audio in Hz.
        channels: interleaved channels.

    Raises:
        VoxpipeUsageError: a bad rate or channel count.

    Example::

        with WavWriter("answer.wav", 24000) as out:
            async for chunk in audio:
                out.write(chunk)
    """

    def __init__(self, target: WavTarget, sample_rate: int, channels: int = 1) -> None:
        self._sample_rate = check_rate(sample_rate)
        self._channels = check_channels(channels)
        self._frames = 0
        opened = _open_arg(target)
        self._name = opened if isinstance(opened, str) else getattr(target, "name", "<stream>")
        # The writer lives as long as this object; close() or the context manager ends it.
        writer = wave.open(opened, "wb")  # noqa: SIM115
        writer.setnchannels(self._channels)
        writer.setsampwidth(2)
        writer.setframerate(self._sample_rate)
        self._wave: wave.Wave_write | None = writer

    def __repr__(self) -> str:
        state = "closed" if self._wave is None else "open"
        return (
            f"WavWriter({self._name!r}, {self._sample_rate} Hz x{self._channels}, {state}, "
            f"frames={self._frames})"
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def frames_written(self) -> int:
        """Frames (samples per channel) written so far."""
        return self._frames

    @property
    def duration_ms(self) -> float:
        """Milliseconds of audio written so far."""
        return self._frames * 1000.0 / self._sample_rate

    @property
    def closed(self) -> bool:
        """Whether ``close`` has been called."""
        return self._wave is None

    def write(self, pcm: bytes | bytearray | memoryview) -> None:
        """Append audio to the file.

        Args:
            pcm: interleaved 16-bit little-endian PCM at the writer's rate and channels, whole frames.

        Raises:
            VoxpipeStateError: the writer is closed.
            VoxpipeUsageError: ``pcm`` is not whole frames.
        """
        if self._wave is None:
            raise VoxpipeStateError(f"cannot write to {self._name}: the WavWriter is closed; open a new one")
        frame_bytes = 2 * self._channels
        check_pcm(pcm, frame_bytes)
        nbytes = pcm.nbytes if isinstance(pcm, memoryview) else len(pcm)
        if nbytes:
            self._wave.writeframes(pcm)
            self._frames += nbytes // frame_bytes

    def close(self) -> None:
        """Write the final header and close the file (but not a file object passed in); idempotent."""
        writer, self._wave = self._wave, None
        if writer is not None:
            writer.close()

"""Argument checks shared by the audio modules, so every module words its errors the same way."""

from __future__ import annotations

from voxpipe.errors import VoxpipeUsageError

__all__ = ["check_channels", "check_pcm", "check_rate", "check_sample_width"]

#: Sample widths (bytes per sample) that linear PCM may use in this package.
SAMPLE_WIDTHS = (1, 2, 3, 4)


def check_rate(value: object, name: str = "sample_rate") -> int:
    """Return ``value`` as a sample rate, or raise if it is not a positive whole number of Hz.

    Args:
        value: the rate the caller passed.
        name: the argument name to quote in the error.

    Returns:
        The rate, unchanged.

    Raises:
        VoxpipeUsageError: ``value`` is not an ``int`` (``bool`` is refused too) or is not positive.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise VoxpipeUsageError(
            f"{name} must be an int in Hz (for example 16000 or 24000), got {type(value).__name__} {value!r}"
        )
    if value <= 0:
        raise VoxpipeUsageError(f"{name} must be a positive number of Hz (for example 24000), got {value}")
    return value


def check_channels(value: object, name: str = "channels") -> int:
    """Return ``value`` as a channel count, or raise if it is not a positive ``int``.

    Args:
        value: the channel count the caller passed.
        name: the argument name to quote in the error.

    Returns:
        The channel count, unchanged.

    Raises:
        VoxpipeUsageError: ``value`` is not an ``int`` of at least 1.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise VoxpipeUsageError(f"{name} must be an int of at least 1 (1 = mono, 2 = stereo), got {value!r}")
    return value


def check_sample_width(value: object, allowed: tuple[int, ...] = SAMPLE_WIDTHS) -> int:
    """Return ``value`` as a sample width in bytes, or raise naming the widths that are allowed.

    Args:
        value: the width the caller passed.
        allowed: the widths the calling function supports.

    Returns:
        The width, unchanged.

    Raises:
        VoxpipeUsageError: ``value`` is not one of ``allowed``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        names = ", ".join(f"{w} ({w * 8}-bit)" for w in allowed)
        raise VoxpipeUsageError(f"sample_width must be one of {names} bytes, got {value!r}")
    return value


def check_pcm(pcm: object, frame_bytes: int, what: str = "pcm") -> bytes | bytearray | memoryview:
    """Check that ``pcm`` is a bytes-like buffer holding whole frames of ``frame_bytes`` bytes each.

    A frame is one sample for every channel, so a partial frame means the audio was cut in the middle of a
    sample and every later sample would be misread.

    Args:
        pcm: the buffer the caller passed.
        frame_bytes: bytes per frame (sample width times channels).
        what: how to name the buffer in the error.

    Returns:
        ``pcm``, unchanged.

    Raises:
        VoxpipeUsageError: ``pcm`` is not bytes-like or its length is not a multiple of ``frame_bytes``.
    """
    if not isinstance(pcm, bytes | bytearray | memoryview):
        raise VoxpipeUsageError(f"{what} must be bytes (raw little-endian PCM), got {type(pcm).__name__}")
    size = pcm.nbytes if isinstance(pcm, memoryview) else len(pcm)
    if size % frame_bytes:
        raise VoxpipeUsageError(
            f"{what} has {size} bytes, which is not a whole number of {frame_bytes}-byte frames; the audio "
            "was cut inside a sample. Pass whole frames, or regroup the stream with voxpipe.audio.Rechunker"
        )
    return pcm

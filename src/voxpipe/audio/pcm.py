"""Conversions and measurements on 16-bit linear PCM: float arrays, mono downmix, RMS and dBFS levels.

All PCM in voxpipe is signed 16-bit little-endian, channels interleaved (``L R L R ...``). Services that
compute on audio (a VAD, a level meter, a model) want float32; tests want a level to tell silence, speech
and clicks apart. Both live here so no module hand-rolls its own scaling.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from voxpipe.audio._checks import check_channels, check_pcm
from voxpipe.errors import VoxpipeUsageError

__all__ = [
    "PCM16",
    "downmix_to_mono",
    "float32_to_pcm16",
    "pcm16_array",
    "pcm16_from_samples",
    "pcm16_to_float32",
    "peak",
    "rms",
    "rms_dbfs",
]

#: numpy dtype of one PCM sample on the wire: signed 16-bit, little-endian.
PCM16 = np.dtype("<i2")

#: Scale between int16 and float: -32768 maps to -1.0 exactly, 32767 to just under 1.0.
_SCALE = 32768.0


def pcm16_array(pcm: bytes | bytearray | memoryview, channels: int = 1) -> npt.NDArray[np.int16]:
    """View PCM bytes as an int16 array of shape ``(frames, channels)`` without copying (on little-endian).

    Args:
        pcm: 16-bit PCM, whole frames.
        channels: interleaved channels in ``pcm``.

    Returns:
        A read-only int16 array; copy it before writing to it.

    Raises:
        VoxpipeUsageError: ``channels`` is not positive or ``pcm`` is not whole frames.
    """
    check_channels(channels)
    check_pcm(pcm, 2 * channels)
    samples = np.frombuffer(pcm, dtype=PCM16).astype(np.int16, copy=False)
    return samples.reshape(-1, channels)


def pcm16_to_float32(pcm: bytes | bytearray | memoryview, channels: int = 1) -> npt.NDArray[np.float32]:
    """Convert 16-bit PCM to float32 samples in ``[-1.0, 1.0)``.

    Args:
        pcm: 16-bit PCM, whole frames.
        channels: interleaved channels; with more than one the result has shape ``(frames, channels)``.

    Returns:
        A new float32 array, 1-D for mono, 2-D otherwise.

    Raises:
        VoxpipeUsageError: ``channels`` is not positive or ``pcm`` is not whole frames.
    """
    samples = pcm16_array(pcm, channels).astype(np.float32)
    samples *= np.float32(1.0 / _SCALE)
    return samples[:, 0] if channels == 1 else samples


def float32_to_pcm16(samples: npt.ArrayLike) -> bytes:
    """Convert float samples in ``[-1.0, 1.0]`` to 16-bit PCM bytes, rounding to nearest and clipping.

    Values outside the range are clipped rather than wrapped, because a wrapped sample is a loud click.
    A 2-D ``(frames, channels)`` array is written interleaved.

    Args:
        samples: float samples (any float dtype, any shape; C order decides the byte order).

    Returns:
        Little-endian 16-bit PCM.

    Raises:
        VoxpipeUsageError: ``samples`` holds NaN, which has no PCM value.
    """
    values = np.asarray(samples, dtype=np.float32) * np.float32(_SCALE)
    if values.size and np.isnan(values).any():
        raise VoxpipeUsageError("samples contain NaN; fix the computation that produced them before encoding")
    return _round_to_pcm16(values)


def pcm16_from_samples(samples: npt.NDArray[np.floating]) -> bytes:
    """Round float samples already on the int16 scale (as ``StreamResampler.process_samples`` gives them),
    clip them to int16 and return little-endian PCM bytes.

    Rounding works sample by sample, so chunks rounded one by one or joined and rounded once give the
    same bytes.
    """
    return _round_to_pcm16(samples)


def _round_to_pcm16(values: npt.NDArray[np.floating]) -> bytes:
    """Round float values already scaled to the int16 range, clip them, and return PCM bytes.

    The clip is two ufuncs on the rounded copy, in place: ``ndarray.clip`` goes through a Python wrapper
    that cost more than the clipping itself on 20 ms chunks (this runs once per chunk of every stream).
    """
    rounded = np.rint(values)
    np.minimum(rounded, 32767, out=rounded)
    np.maximum(rounded, -32768, out=rounded)
    return rounded.astype(PCM16).tobytes()


def _channel_mean(
    frames: npt.NDArray[np.int16], dtype: type[np.floating] = np.float32
) -> npt.NDArray[np.floating]:
    """Average the columns of a ``(frames, channels)`` array as floats (unrounded).

    Adding columns one by one is about six times faster than ``ndarray.mean(axis=1)`` on 20 ms chunks. With
    float32, the average of two int16 channels is exact (the sum fits in 24 bits, halving is exact).
    """
    total = frames[:, 0].astype(dtype)
    for column in range(1, frames.shape[1]):
        total += frames[:, column]
    total /= frames.shape[1]
    return total


def downmix_to_mono(pcm: bytes | bytearray | memoryview, channels: int) -> bytes:
    """Average the channels of 16-bit PCM into one, rounding to nearest.

    Voice services take mono; a 48 kHz stereo microphone frame must be folded before it is sent. Averaging
    (not summing) keeps the level of a centred voice and cannot overflow.

    Args:
        pcm: interleaved 16-bit PCM, whole frames.
        channels: channels in ``pcm``; ``1`` returns the input unchanged.

    Returns:
        Mono 16-bit PCM, one sample per input frame.

    Raises:
        VoxpipeUsageError: ``channels`` is not positive or ``pcm`` is not whole frames.
    """
    frames = pcm16_array(pcm, channels)
    if channels == 1:
        return bytes(pcm)
    return _round_to_pcm16(_channel_mean(frames, np.float64))


def rms(pcm: bytes | bytearray | memoryview) -> float:
    """Root-mean-square level of 16-bit PCM, in sample units (0 to 32768); ``0.0`` for empty input.

    All channels count alike, so interleaved audio needs no ``channels`` argument.

    Raises:
        VoxpipeUsageError: ``pcm`` has an odd number of bytes.
    """
    samples = np.frombuffer(check_pcm(pcm, 2), dtype=PCM16).astype(np.float64)
    if samples.size == 0:
        return 0.0
    # A dot product, not np.mean(np.square()): one call instead of a Python-level wrapper and two
    # temporaries (the realtime service measures every input chunk). The sum of squares of int16 values
    # is a whole number, exact in float64 in any order below 2**53 (8 million samples), so the result
    # is the same.
    return math.sqrt(float(samples @ samples) / samples.size)


def rms_dbfs(pcm: bytes | bytearray | memoryview) -> float:
    """RMS level in dB relative to full scale: ``0.0`` for a full-scale square wave, ``-inf`` for silence.

    A full-scale sine reads about -3 dBFS; one LSB of noise about -90 dBFS. Tests use it to tell speech
    (-40 to -10) from silence.

    Raises:
        VoxpipeUsageError: ``pcm`` has an odd number of bytes.
    """
    level = rms(pcm)
    return -math.inf if level == 0.0 else 20.0 * math.log10(level / _SCALE)


def peak(pcm: bytes | bytearray | memoryview) -> int:
    """Largest absolute sample value (0 to 32768); ``0`` for empty input.

    Raises:
        VoxpipeUsageError: ``pcm`` has an odd number of bytes.
    """
    samples = pcm16_array(pcm)
    if samples.size == 0:
        return 0
    return int(np.abs(samples.astype(np.int32)).max())

"""PCM16 helpers for the caller side of the engine interfaces: conversion and incremental resampling.

Engines declare their rate and the caller resamples (see ``base``); this module is what the caller uses.
soxr is a core dependency, so nothing here is optional.
"""

from __future__ import annotations

import numpy as np
import soxr

from voxpipe.errors import VoxpipeUsageError

__all__ = ["PCMResampler", "float32_to_pcm16", "pcm16_to_float32"]


def pcm16_to_float32(pcm16: bytes) -> np.ndarray:
    """Decode PCM16 little-endian bytes into float32 samples in -1..1."""
    if len(pcm16) % 2:
        raise VoxpipeUsageError(f"PCM16 audio must be whole 2-byte samples, got {len(pcm16)} bytes")
    return np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0


def float32_to_pcm16(samples: np.ndarray) -> bytes:
    """Encode float samples (-1..1, clipped) as PCM16 little-endian bytes."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 32767.0 / 32768.0)
    return (clipped * 32768.0).astype("<i2").tobytes()


class PCMResampler:
    """Resamples a PCM16 stream chunk by chunk, keeping filter state between chunks.

    A stream resampler (not one call per chunk) avoids clicks at chunk edges; it delays the output by a
    few milliseconds, which ``flush`` returns at the end. With equal rates it passes the bytes through.

    Args:
        in_rate: rate of the audio given to ``process``.
        out_rate: rate of the audio it returns.
    """

    def __init__(self, in_rate: int, out_rate: int) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise VoxpipeUsageError(f"sample rates must be positive, got {in_rate} -> {out_rate}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = (
            None if in_rate == out_rate else soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16")
        )

    def process(self, pcm16: bytes) -> bytes:
        """Resample one chunk; the result may be a little shorter than the exact ratio (the rest is held)."""
        if self._stream is None:
            return pcm16
        if len(pcm16) % 2:
            raise VoxpipeUsageError(f"PCM16 audio must be whole 2-byte samples, got {len(pcm16)} bytes")
        out = self._stream.resample_chunk(np.frombuffer(pcm16, dtype="<i2"))
        return np.asarray(out, dtype="<i2").tobytes()

    def flush(self) -> bytes:
        """Return the held samples at the end of the stream; the resampler is then ready for a new one."""
        if self._stream is None:
            return b""
        out = self._stream.resample_chunk(np.zeros(0, dtype="<i2"), last=True)
        self._stream.clear()
        return np.asarray(out, dtype="<i2").tobytes()

"""Helpers shared by the audio tests: test signals and the location of the speech fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SPEECH_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "speech"
"""The speech fixtures, kept in the repository (``tests/fixtures/speech``)."""


def sine(rate: int, seconds: float, freq: float = 440.0, amplitude: float = 10000.0) -> np.ndarray:
    """An int16 sine wave."""
    t = np.arange(int(rate * seconds)) / rate
    return np.rint(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def speechlike(rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """A sine chord plus noise, as int16: broadband enough to exercise the whole filter."""
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    t = np.arange(n) / rate
    x = 6000 * np.sin(2 * np.pi * 220 * t) + 3000 * np.sin(2 * np.pi * 1330 * t) + rng.normal(0, 1500, n)
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def as_array(pcm: bytes) -> np.ndarray:
    """PCM16 bytes as an int32 array (room for differences)."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.int32)

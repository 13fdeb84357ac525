"""Float conversion, mono downmix and levels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from voxpipe.audio import (
    downmix_to_mono,
    float32_to_pcm16,
    pcm16_array,
    pcm16_to_float32,
    peak,
    rms,
    rms_dbfs,
    silence,
)
from voxpipe.errors import VoxpipeUsageError

from ._signals import sine

ALL_PCM = np.arange(-32768, 32768, dtype="<i2").tobytes()


def test_float_round_trip_is_exact_for_every_int16() -> None:
    samples = pcm16_to_float32(ALL_PCM)
    assert samples.dtype == np.float32
    assert samples.min() == -1.0
    assert samples.max() < 1.0
    assert float32_to_pcm16(samples) == ALL_PCM


def test_float_conversion_keeps_channels() -> None:
    stereo = np.array([[1, -1], [16384, -16384]], dtype="<i2").tobytes()
    samples = pcm16_to_float32(stereo, channels=2)
    assert samples.shape == (2, 2)
    assert samples[1].tolist() == [0.5, -0.5]
    assert float32_to_pcm16(samples) == stereo


def test_float_to_pcm_clips_and_rounds() -> None:
    out = np.frombuffer(float32_to_pcm16([2.0, -2.0, 1.0, 0.4 / 32768, 0.6 / 32768]), "<i2")
    assert out.tolist() == [32767, -32768, 32767, 0, 1]


def test_float_to_pcm_refuses_nan() -> None:
    with pytest.raises(VoxpipeUsageError, match="NaN"):
        float32_to_pcm16([0.0, float("nan")])


def test_downmix_averages_and_rounds() -> None:
    stereo = np.array([[32767, 32767], [-32768, -32768], [1, 2], [10, -10]], dtype="<i2").tobytes()
    assert np.frombuffer(downmix_to_mono(stereo, 2), "<i2").tolist() == [32767, -32768, 2, 0]
    assert downmix_to_mono(b"\x01\x00", 1) == b"\x01\x00"


def test_pcm16_array_shape_and_errors() -> None:
    assert pcm16_array(bytes(12), channels=3).shape == (2, 3)
    with pytest.raises(VoxpipeUsageError, match="6-byte frames"):
        pcm16_array(bytes(8), channels=3)


def test_levels() -> None:
    square = np.tile(np.array([32767, -32767], dtype="<i2"), 100).tobytes()
    assert rms_dbfs(square) == pytest.approx(0.0, abs=0.001)
    assert rms_dbfs(sine(16000, 1.0, freq=1000, amplitude=32767).tobytes()) == pytest.approx(-3.01, abs=0.02)
    assert rms_dbfs(silence(20, 16000)) == -math.inf
    assert rms(b"") == 0.0
    assert peak(b"") == 0
    assert peak(np.array([5, -32768, 7], dtype="<i2").tobytes()) == 32768
    with pytest.raises(VoxpipeUsageError):
        rms(b"\x00")

"""The caller-side PCM helpers re-exported for engines: the same objects as ``voxpipe.audio``'s, and
the behaviour engine code relies on (exact duration across chunks, pass-through, misuse errors)."""

from __future__ import annotations

import numpy as np
import pytest

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines.audio import PCMResampler, float32_to_pcm16, pcm16_to_float32


def test_one_definition() -> None:
    import voxpipe.audio

    assert PCMResampler is voxpipe.audio.StreamResampler
    assert pcm16_to_float32 is voxpipe.audio.pcm16_to_float32


def test_resampler_keeps_duration_across_chunks() -> None:
    resampler = PCMResampler(24_000, 16_000)
    tone = (np.sin(np.arange(24_000) * 2 * np.pi * 440 / 24_000) * 10_000).astype("<i2").tobytes()
    out = b"".join(resampler.process(tone[i : i + 960]) for i in range(0, len(tone), 960)) + resampler.flush()
    assert len(out) // 2 == 16_000
    samples = np.frombuffer(out, dtype="<i2")
    assert 6_000 < np.abs(samples[1000:-1000]).max() < 11_000


def test_same_rate_passes_through() -> None:
    assert PCMResampler(16_000, 16_000).process(b"\x01\x00\x02\x00") == b"\x01\x00\x02\x00"


def test_odd_bytes_and_bad_rates_are_misuse() -> None:
    with pytest.raises(VoxpipeUsageError):
        PCMResampler(24_000, 16_000).process(b"\x00")
    with pytest.raises(VoxpipeUsageError):
        PCMResampler(0, 16_000)
    with pytest.raises(VoxpipeUsageError):
        pcm16_to_float32(b"\x00")


def test_conversion_round_trip_and_clipping() -> None:
    pcm = np.array([-32768, -1, 0, 1, 32767], dtype="<i2").tobytes()
    assert float32_to_pcm16(pcm16_to_float32(pcm)) == pcm
    assert float32_to_pcm16(np.array([2.0, -2.0])) == np.array([32767, -32768], dtype="<i2").tobytes()

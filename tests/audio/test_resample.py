"""StreamResampler and resample: chunked streams match one-shot output, lengths, layouts, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from voxpipe.audio import StreamResampler, read_wav, resample
from voxpipe.errors import VoxpipeUsageError

from ._signals import SPEECH_DIR, as_array, sine, speechlike

RATES = [8000, 16000, 24000, 44100, 48000]
RATE_PAIRS = [(a, b) for a, b in itertools.permutations(RATES, 2)]


def stream_in_chunks(resampler: StreamResampler, pcm: bytes, chunk_frames: int) -> list[bytes]:
    """Feed ``pcm`` in chunks of ``chunk_frames`` frames; return every output piece, the flush last."""
    step = chunk_frames * 2 * resampler.channels
    pieces = [resampler.process(pcm[i : i + step]) for i in range(0, len(pcm), step)]
    pieces.append(resampler.flush())
    return pieces


@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS, ids=[f"{a}-{b}" for a, b in RATE_PAIRS])
@pytest.mark.parametrize("chunk_ms", [20, 7])
def test_chunked_stream_matches_one_shot(in_rate: int, out_rate: int, chunk_ms: int) -> None:
    pcm = speechlike(in_rate, 0.5).tobytes()
    one_shot = as_array(resample(pcm, in_rate, out_rate))
    streamed = as_array(
        b"".join(stream_in_chunks(StreamResampler(in_rate, out_rate), pcm, in_rate * chunk_ms // 1000))
    )
    assert len(streamed) == len(one_shot)
    # Both run through soxr's float path with our own rounding, so they agree exactly; allow 1 LSB.
    assert np.abs(streamed - one_shot).max() <= 1


@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS, ids=[f"{a}-{b}" for a, b in RATE_PAIRS])
def test_output_length_after_flush(in_rate: int, out_rate: int) -> None:
    frames = in_rate * 37 // 100 + 3  # an awkward length
    pcm = speechlike(in_rate, 1.0)[:frames].tobytes()
    out = b"".join(stream_in_chunks(StreamResampler(in_rate, out_rate), pcm, in_rate // 50))
    assert abs(len(out) // 2 - frames * out_rate / in_rate) <= 1


@pytest.mark.parametrize(
    ("in_rate", "out_rate"), [(16000, 24000), (48000, 24000), (8000, 24000), (24000, 8000)]
)
@pytest.mark.parametrize("chunk_ms", [20, 7])
def test_no_clicks_at_chunk_edges(in_rate: int, out_rate: int, chunk_ms: int) -> None:
    pcm = sine(in_rate, 1.0, freq=300).tobytes()
    pieces = stream_in_chunks(StreamResampler(in_rate, out_rate), pcm, in_rate * chunk_ms // 1000)
    out = as_array(b"".join(pieces))
    edges = np.cumsum([len(p) // 2 for p in pieces[:-1] if p])[:-1]
    # The output starts and ends with filter ramps; judge the steady middle only.
    lo, hi = len(out) // 10, len(out) * 9 // 10
    edges = edges[(edges > lo) & (edges < hi)]
    assert len(edges) > 10
    # Jumps show a step; the second difference also shows a kink (a seam resampled without the
    # neighbouring samples bends the curve without a large step; that fails this test, the jumps do not).
    for order in (1, 2):
        change = np.abs(np.diff(out, order))
        near_edge = np.zeros(len(change), dtype=bool)
        for offset in (-3, -2, -1, 0, 1):
            near_edge[edges + offset] = True
        steady = np.zeros(len(change), dtype=bool)
        steady[lo:hi] = True
        assert change[near_edge].max() <= change[steady & ~near_edge].max() + 1, f"order {order}"


def test_resampled_sine_keeps_its_frequency_and_level() -> None:
    pcm = resample(sine(16000, 1.0, freq=1000, amplitude=8000).tobytes(), 16000, 24000)
    out = as_array(pcm)[2400:-2400].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    peak_hz = np.argmax(spectrum) * 24000 / len(out)
    assert abs(peak_hz - 1000) < 5
    assert abs(np.sqrt(np.mean(out**2)) - 8000 / np.sqrt(2)) < 60


def test_fixture_speech_streamed_in_20ms_matches_one_shot() -> None:
    audio = read_wav(SPEECH_DIR / "en_librivox_amiable_16k.wav")
    one_shot = resample(audio.pcm, 16000, 24000)
    streamed = b"".join(stream_in_chunks(StreamResampler(16000, 24000), audio.pcm, 320))
    assert np.abs(as_array(streamed) - as_array(one_shot)).max() <= 1


def test_stereo_48k_to_mono_24k_is_the_downmix_resampled() -> None:
    left = speechlike(48000, 0.5, seed=1).astype(np.int32)
    right = sine(48000, 0.5, freq=500).astype(np.int32)
    stereo = np.stack([left, right], axis=1).astype(np.int16).tobytes()
    mono = np.rint((left + right) / 2).astype(np.int16).tobytes()
    expected = as_array(resample(mono, 48000, 24000))
    resampler = StreamResampler(48000, 24000, channels=2, out_channels=1)
    streamed = as_array(b"".join(stream_in_chunks(resampler, stereo, 960)))
    assert len(streamed) == len(expected) == 12000
    # Averaging in float before rounding may differ from the pre-rounded mono by one LSB.
    assert np.abs(streamed - expected).max() <= 2
    assert np.abs(as_array(resample(stereo, 48000, 24000, channels=2, out_channels=1)) - streamed).max() <= 1


def test_stereo_stays_stereo_and_channels_do_not_mix() -> None:
    left, right = speechlike(48000, 0.3, seed=2), sine(48000, 0.3, freq=700)
    stereo = np.stack([left, right], axis=1).tobytes()
    out = as_array(b"".join(stream_in_chunks(StreamResampler(48000, 16000, channels=2), stereo, 960)))
    out = out.reshape(-1, 2)
    assert np.abs(out[:, 0] - as_array(resample(left.tobytes(), 48000, 16000))).max() <= 1
    assert np.abs(out[:, 1] - as_array(resample(right.tobytes(), 48000, 16000))).max() <= 1


def test_equal_rates_pass_through_without_delay() -> None:
    pcm = speechlike(24000, 0.1).tobytes()
    resampler = StreamResampler(24000, 24000)
    assert resampler.process(pcm) == pcm
    assert resampler.pending_ms == 0.0
    assert resampler.flush() == b""
    assert resample(pcm, 24000, 24000) == pcm


def test_equal_rates_still_fold_stereo_to_mono() -> None:
    stereo = np.array([[100, 300], [-5, -6], [32767, 32767]], dtype="<i2").tobytes()
    expected = np.array([200, -6, 32767], dtype="<i2").tobytes()  # -5.5 rounds half to even
    assert StreamResampler(48000, 48000, channels=2, out_channels=1).process(stereo) == expected


def test_filter_holds_samples_until_flush() -> None:
    resampler = StreamResampler(16000, 24000)
    first = resampler.process(speechlike(16000, 0.02).tobytes())
    assert len(first) < 480 * 2
    assert resampler.pending_ms > 0


def test_flush_makes_the_resampler_reusable() -> None:
    pcm = speechlike(16000, 0.3).tobytes()
    resampler = StreamResampler(16000, 24000)
    first = b"".join(stream_in_chunks(resampler, pcm, 320))
    second = b"".join(stream_in_chunks(resampler, pcm, 320))
    assert first == second


def test_reset_drops_the_held_tail() -> None:
    pcm = speechlike(16000, 0.3).tobytes()
    fresh = b"".join(stream_in_chunks(StreamResampler(16000, 24000), pcm, 320))
    resampler = StreamResampler(16000, 24000)
    resampler.process(sine(16000, 0.1).tobytes())
    resampler.reset()
    assert b"".join(stream_in_chunks(resampler, pcm, 320)) == fresh


def test_empty_input_gives_empty_output() -> None:
    resampler = StreamResampler(16000, 24000)
    assert resampler.process(b"") == b""
    assert resampler.flush() == b""
    assert resample(b"", 8000, 24000) == b""


@pytest.mark.parametrize("quality", ["QQ", "LQ", "MQ", "HQ", "VHQ"])
def test_every_quality_preset_streams(quality: str) -> None:
    pcm = speechlike(16000, 0.2).tobytes()
    resampler = StreamResampler(16000, 24000, quality=quality)  # type: ignore[arg-type]
    out = b"".join(stream_in_chunks(resampler, pcm, 320))
    assert abs(len(out) // 2 - 4800) <= 1


def test_bytearray_and_memoryview_are_accepted() -> None:
    pcm = speechlike(16000, 0.1).tobytes()
    assert resample(bytearray(pcm), 16000, 8000) == resample(memoryview(pcm), 16000, 8000)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"in_rate": 0, "out_rate": 24000}, "in_rate must be a positive"),
        ({"in_rate": 16000, "out_rate": -8000}, "out_rate must be a positive"),
        ({"in_rate": 16000.0, "out_rate": 24000}, "in_rate must be an int"),
        ({"in_rate": True, "out_rate": 24000}, "in_rate must be an int"),
        ({"in_rate": 16000, "out_rate": 24000, "channels": 0}, "channels must be an int of at least 1"),
        ({"in_rate": 16000, "out_rate": 24000, "out_channels": 2}, "out_channels must be 1"),
        ({"in_rate": 16000, "out_rate": 24000, "channels": 2, "out_channels": 3}, "cannot turn 2-channel"),
        ({"in_rate": 16000, "out_rate": 24000, "quality": "best"}, "quality must be one of"),
    ],
)
def test_bad_arguments_raise_usage_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(VoxpipeUsageError, match=match):
        StreamResampler(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(VoxpipeUsageError, match=match):
        resample(b"", **kwargs)  # type: ignore[arg-type]


def test_odd_byte_length_is_refused_with_advice() -> None:
    with pytest.raises(VoxpipeUsageError, match=r"not a whole number of 2-byte frames.*Rechunker"):
        StreamResampler(16000, 24000).process(b"\x00\x01\x02")
    with pytest.raises(VoxpipeUsageError, match="4-byte frames"):
        StreamResampler(48000, 24000, channels=2, out_channels=1).process(b"\x00" * 6)
    with pytest.raises(VoxpipeUsageError, match="must be bytes"):
        StreamResampler(16000, 24000).process("abc")  # type: ignore[arg-type]


def test_usage_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        resample(b"\x00", 16000, 24000)


def test_repr_names_the_conversion() -> None:
    assert repr(StreamResampler(48000, 24000, channels=2, out_channels=1)) == (
        "StreamResampler(48000 Hz x2 -> 24000 Hz x1, quality='HQ')"
    )


@pytest.mark.parametrize(
    ("in_rate", "out_rate", "channels", "out_channels"),
    [(16000, 24000, 1, 1), (48000, 24000, 2, 1), (48000, 24000, 2, 2), (24000, 24000, 1, 1),
     (24000, 24000, 2, 1), (24000, 24000, 3, 1), (8000, 24000, 1, 1)],
)
def test_unrounded_samples_round_to_what_process_and_flush_return(
    in_rate: int, out_rate: int, channels: int, out_channels: int
) -> None:
    from voxpipe.audio import pcm16_from_samples

    pcm = np.repeat(speechlike(in_rate, 0.4)[:, None], channels, axis=1)
    pcm[:, -1] //= 3  # channels that differ, so a fold to mono has halves and thirds to round
    data = pcm.astype("<i2").tobytes()
    layout = {"channels": channels, "out_channels": out_channels}
    rounded = StreamResampler(in_rate, out_rate, **layout)
    unrounded = StreamResampler(in_rate, out_rate, **layout)
    step = in_rate // 50 * 2 * channels
    gathered = []
    for i in range(0, len(data), step):
        samples = unrounded.process_samples(data[i : i + step])
        assert pcm16_from_samples(samples) == rounded.process(data[i : i + step])
        gathered.append(samples)
    tail = unrounded.flush_samples()
    assert pcm16_from_samples(tail) == rounded.flush()
    # joined and rounded once: the same bytes as chunk by chunk
    assert pcm16_from_samples(np.concatenate([*gathered, tail])) == b"".join(
        stream_in_chunks(StreamResampler(in_rate, out_rate, **layout), data, in_rate // 50)
    )

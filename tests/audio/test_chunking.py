"""Rechunker and the size/duration helpers."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxpipe.audio import Rechunker, bytes_per_ms, duration_ms, frames_for_ms, silence
from voxpipe.errors import VoxpipeUsageError


@given(
    data=st.binary(max_size=6000),
    cuts=st.lists(st.integers(min_value=0, max_value=6000), max_size=12),
    chunk_ms=st.sampled_from([10, 20, 30, 100]),
    rate=st.sampled_from([8000, 16000, 24000, 44100, 48000]),
    channels=st.sampled_from([1, 2]),
)
def test_rechunking_preserves_the_stream_and_sizes_every_chunk(
    data: bytes, cuts: list[int], chunk_ms: int, rate: int, channels: int
) -> None:
    frame_bytes = 2 * channels
    data = data[: len(data) - len(data) % frame_bytes]  # a stream of whole frames, cut anywhere
    bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    rechunker = Rechunker(chunk_ms, rate, channels)
    chunks: list[bytes] = []
    for start, end in itertools.pairwise(bounds):
        chunks.extend(rechunker.push(data[start:end]))
    assert all(len(chunk) == rechunker.chunk_bytes for chunk in chunks)
    rest = rechunker.flush()
    assert len(rest) < rechunker.chunk_bytes
    assert len(rest) % frame_bytes == 0
    assert b"".join(chunks) + rest == data
    assert rechunker.pending_bytes == 0


def test_chunk_sizes_for_common_formats() -> None:
    assert Rechunker(20, 8000, sample_width=1).chunk_bytes == 160  # Twilio μ-law frame
    assert Rechunker(20, 24000).chunk_bytes == 960
    assert Rechunker(100, 24000).chunk_bytes == 4800
    assert Rechunker(10, 48000, channels=2).chunk_bytes == 1920
    assert Rechunker(10, 44100).chunk_bytes == 882


def test_exact_size_input_passes_straight_through() -> None:
    rechunker = Rechunker(20, 16000)
    chunk = bytes(range(256)) * 2 + bytes(128)
    assert rechunker.push(chunk) == [chunk]
    assert rechunker.pending_bytes == 0


def test_remainder_waits_for_the_next_push() -> None:
    rechunker = Rechunker(10, 8000)  # 160 bytes
    assert rechunker.push(bytes(100)) == []
    assert rechunker.pending_bytes == 100
    assert rechunker.push(bytes(300)) == [bytes(160), bytes(160)]
    assert rechunker.pending_bytes == 80


def test_a_sample_split_across_pushes_is_rejoined() -> None:
    rechunker = Rechunker(10, 100)  # 1 frame of 2 bytes per chunk
    assert rechunker.push(b"\x01") == []
    assert rechunker.push(b"\x02\x03") == [b"\x01\x02"]
    assert rechunker.push(b"\x04") == [b"\x03\x04"]
    assert rechunker.flush() == b""


def test_flush_with_a_stray_byte_is_an_error_and_empties_the_buffer() -> None:
    rechunker = Rechunker(10, 8000)
    rechunker.push(bytes(5))
    with pytest.raises(VoxpipeUsageError, match="ended inside a sample: 1 stray byte"):
        rechunker.flush()
    assert rechunker.pending_bytes == 0


def test_flush_pads_with_silence_on_request() -> None:
    rechunker = Rechunker(10, 8000)
    rechunker.push(b"\x01\x02" * 10)
    padded = rechunker.flush(pad=True)
    assert padded == b"\x01\x02" * 10 + bytes(140)
    assert rechunker.flush(pad=True) == b""  # nothing left: nothing to pad


def test_flush_pads_ulaw_with_ulaw_silence() -> None:
    rechunker = Rechunker(20, 8000, sample_width=1, pad_byte=0xFF)
    rechunker.push(b"\x10" * 60)
    assert rechunker.flush(pad=True) == b"\x10" * 60 + b"\xff" * 100


def test_reset_drops_the_buffer() -> None:
    rechunker = Rechunker(20, 8000)
    rechunker.push(bytes(50))
    rechunker.reset()
    assert rechunker.pending_bytes == 0
    assert rechunker.flush() == b""
    assert "pending=0" in repr(rechunker)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0, 16000), {}, "positive int of milliseconds"),
        ((-10, 16000), {}, "positive int of milliseconds"),
        ((20.0, 16000), {}, "positive int of milliseconds"),
        ((5, 44100), {}, "not a whole number; use a multiple of 10 ms"),
        ((20, 0), {}, "sample_rate must be a positive"),
        ((20, 16000, 0), {}, "channels must be"),
        ((20, 16000, 1, 5), {}, "sample_width must be one of"),
        ((20, 16000), {"pad_byte": 256}, "pad_byte must be"),
    ],
)
def test_bad_arguments(args: tuple[object, ...], kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(VoxpipeUsageError, match=match):
        Rechunker(*args, **kwargs)  # type: ignore[arg-type]


def test_push_refuses_non_bytes() -> None:
    with pytest.raises(VoxpipeUsageError, match="takes bytes"):
        Rechunker(20, 8000).push("text")  # type: ignore[arg-type]


def test_bytes_per_ms() -> None:
    assert bytes_per_ms(24000) == 48.0
    assert bytes_per_ms(48000, channels=2) == 192.0
    assert bytes_per_ms(8000, sample_width=1) == 8.0
    assert bytes_per_ms(44100) == pytest.approx(88.2)


def test_duration_ms() -> None:
    assert duration_ms(960, 24000) == 20.0
    assert duration_ms(0, 16000) == 0.0
    assert duration_ms(3840, 48000, channels=2) == 20.0
    assert duration_ms(160, 8000, sample_width=1) == 20.0
    with pytest.raises(VoxpipeUsageError, match="not a whole number of 4-byte frames"):
        duration_ms(6, 48000, channels=2)
    with pytest.raises(VoxpipeUsageError):
        duration_ms(-2, 16000)


def test_frames_for_ms() -> None:
    assert frames_for_ms(20, 8000) == 160
    assert frames_for_ms(10, 44100) == 441
    with pytest.raises(VoxpipeUsageError, match=r"44\.1 samples"):
        frames_for_ms(1, 44100)


def test_silence() -> None:
    assert silence(20, 24000) == bytes(960)
    assert silence(10, 48000, channels=2) == bytes(1920)
    assert silence(0, 16000) == b""
    assert len(silence(0.5, 16000)) == 16
    with pytest.raises(VoxpipeUsageError, match="at least 0 ms"):
        silence(-1, 16000)
    with pytest.raises(VoxpipeUsageError, match="sample_rate"):
        silence(10, -16000)

"""G.711: bit-exact with audioop for every input, round trips, and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

from voxpipe.audio import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from voxpipe.errors import VoxpipeUsageError

ALL_PCM = np.arange(-32768, 32768, dtype="<i2").tobytes()
ALL_CODES = bytes(range(256))
CODECS = [
    pytest.param(ulaw_encode, ulaw_decode, "lin2ulaw", "ulaw2lin", id="ulaw"),
    pytest.param(alaw_encode, alaw_decode, "lin2alaw", "alaw2lin", id="alaw"),
]


@pytest.fixture(scope="module")
def audioop():  # type: ignore[no-untyped-def]
    """The stdlib reference coder; removed in Python 3.13, where these comparisons are skipped."""
    return pytest.importorskip("audioop", reason="audioop was removed in Python 3.13; reference unavailable")


@pytest.mark.parametrize(("encode", "decode", "ref_encode", "ref_decode"), CODECS)
def test_encode_matches_audioop_for_every_int16(audioop, encode, decode, ref_encode, ref_decode) -> None:  # type: ignore[no-untyped-def]
    assert encode(ALL_PCM) == getattr(audioop, ref_encode)(ALL_PCM, 2)


@pytest.mark.parametrize(("encode", "decode", "ref_encode", "ref_decode"), CODECS)
def test_decode_matches_audioop_for_every_code(audioop, encode, decode, ref_encode, ref_decode) -> None:  # type: ignore[no-untyped-def]
    assert decode(ALL_CODES) == getattr(audioop, ref_decode)(ALL_CODES, 2)


def test_ulaw_known_values() -> None:
    # ITU-T G.711 table: zero is 0xFF, full scale +/- is 0x80/0x00; decoding 0x80 gives +32124.
    assert ulaw_encode(np.array([0, 32767, -32768], dtype="<i2").tobytes()) == b"\xff\x80\x00"
    assert np.frombuffer(ulaw_decode(b"\x80\x00\xff\x7f"), "<i2").tolist() == [32124, -32124, 0, 0]


def test_alaw_known_values() -> None:
    # A-law: +0 is 0xD5, -1 is 0x55 (the even bits are inverted); decoding 0xAA gives +32256.
    assert alaw_encode(np.array([0, -1, 32767, -32768], dtype="<i2").tobytes()) == b"\xd5\x55\xaa\x2a"
    assert np.frombuffer(alaw_decode(b"\xaa\x2a\xd5"), "<i2").tolist() == [32256, -32256, 8]


def test_alaw_code_round_trip_is_exact_for_all_codes() -> None:
    assert alaw_encode(alaw_decode(ALL_CODES)) == ALL_CODES


def test_ulaw_code_round_trip_is_exact_except_negative_zero() -> None:
    again = ulaw_encode(ulaw_decode(ALL_CODES))
    differ = [code for code in range(256) if again[code] != code]
    assert differ == [0x7F]  # -0 decodes to 0, which encodes as +0 (0xFF)
    assert again[0x7F] == 0xFF


@pytest.mark.parametrize(("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_pcm_round_trip_is_monotonic_and_within_one_step(encode, decode) -> None:  # type: ignore[no-untyped-def]
    original = np.frombuffer(ALL_PCM, "<i2").astype(np.int32)
    decoded = np.frombuffer(decode(encode(ALL_PCM)), "<i2").astype(np.int32)
    assert np.all(np.diff(decoded) >= 0)  # louder input never decodes quieter
    error = np.abs(decoded - original)
    # Logarithmic steps: the error stays within a step, which grows with the magnitude (at most 1/16 of it).
    assert np.all(error <= np.maximum(np.abs(original) // 16, 8) + 132)
    # Decoding is a fixed point: encoding decoded audio again changes nothing.
    assert decode(encode(decode(encode(ALL_PCM)))) == decode(encode(ALL_PCM))


@pytest.mark.parametrize("function", [ulaw_encode, ulaw_decode, alaw_encode, alaw_decode])
def test_empty_input_gives_empty_output(function) -> None:  # type: ignore[no-untyped-def]
    assert function(b"") == b""


def test_sizes() -> None:
    pcm = np.arange(160, dtype="<i2").tobytes()  # 20 ms at 8 kHz
    assert len(ulaw_encode(pcm)) == len(alaw_encode(pcm)) == 160
    assert len(ulaw_decode(bytes(160))) == len(alaw_decode(bytes(160))) == 320


def test_bytearray_and_memoryview_are_accepted() -> None:
    pcm = np.arange(-500, 500, 7, dtype="<i2").tobytes()
    assert ulaw_encode(bytearray(pcm)) == ulaw_encode(memoryview(pcm)) == ulaw_encode(pcm)
    codes = ulaw_encode(pcm)
    assert alaw_decode(bytearray(codes)) == alaw_decode(memoryview(codes))


@pytest.mark.parametrize("encode", [ulaw_encode, alaw_encode])
def test_odd_byte_length_is_refused(encode) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(VoxpipeUsageError, match="3 bytes, which is not a whole number of 2-byte frames"):
        encode(b"\x00\x01\x02")


@pytest.mark.parametrize("function", [ulaw_encode, ulaw_decode, alaw_encode, alaw_decode])
def test_non_bytes_input_is_refused(function) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(VoxpipeUsageError, match="must be bytes"):
        function([1, 2])


@pytest.mark.parametrize(("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_short_and_long_inputs_decode_alike(encode, decode) -> None:  # type: ignore[no-untyped-def]
    # Short chunks and long buffers take different (equally exact) code paths.
    assert decode(ALL_CODES * 40) == decode(ALL_CODES) * 40
    assert decode(bytearray(ALL_CODES[:7])) == decode(ALL_CODES)[:14]

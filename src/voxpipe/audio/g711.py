"""G.711 μ-law and A-law: 16-bit linear PCM to 8-bit telephone codes and back.

Telephone networks (and Twilio media streams, and the Realtime API's ``g711_ulaw``/``g711_alaw``
formats) carry 8 kHz audio as one byte per sample. The codes are bit-exact with ITU-T G.711 as implemented
by the reference Sun/CCITT code that Python's old ``audioop`` module also uses: encoding drops the low
bits (2 for μ-law, 3 for A-law) before companding, exactly as those do. The tests compare all 65,536
int16 inputs and all 256 codes against ``audioop``.

Each direction is a table lookup, built on first use from the segment formula with numpy: encoding
indexes a 65,536-entry table (64 KiB per law) with numpy; decoding uses a 256-entry table, split into its
low and high bytes so that for short chunks two ``bytes.translate`` calls do the work.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt

from voxpipe.audio._checks import check_pcm
from voxpipe.audio.pcm import PCM16

__all__ = ["alaw_decode", "alaw_encode", "ulaw_decode", "ulaw_encode"]

#: Up to this many codes, decoding by ``bytes.translate`` is faster than numpy (20 ms at 8 kHz is 160).
_TRANSLATE_MAX = 400

_Codes = npt.NDArray[np.uint8]
_Linear = npt.NDArray[np.int16]

#: μ-law adds this bias (in 14-bit units) so that every segment starts at a power of two.
_ULAW_BIAS = 0x21
#: Clip level for 14-bit μ-law magnitudes before the bias, as in G.711's reference coder.
_ULAW_CLIP = 8159
#: Largest biased magnitude that still fits segment 7.
_ULAW_TOP = 0x1FFF


def _all_int16() -> npt.NDArray[np.int32]:
    """Every int16 value, ordered by its unsigned bit pattern, so index ``u`` holds ``int16(u)``."""
    return np.arange(1 << 16, dtype=np.uint16).view(np.int16).astype(np.int32)


@cache
def _ulaw_encode_table() -> _Codes:
    sample = _all_int16() >> 2  # 14-bit linear, as G.711 μ-law takes it
    negative = sample < 0
    magnitude = np.minimum(np.where(negative, -sample, sample), _ULAW_CLIP) + _ULAW_BIAS
    # The loudest magnitudes overflow segment 7; they get its top code, as in the reference coder.
    np.minimum(magnitude, _ULAW_TOP, out=magnitude)
    # Segment k covers biased magnitudes [32 << k, 64 << k): the bit length of the value minus 6.
    seg = _bit_length(magnitude) - 6
    mantissa = (magnitude >> (seg + 1)) & 0x0F
    code = (seg << 4) | mantissa
    # Codes are sent inverted (all ones is the quietest positive value); the sign bit set means positive.
    code = np.where(negative, code ^ 0x7F, code ^ 0xFF)
    return code.astype(np.uint8)


@cache
def _alaw_encode_table() -> _Codes:
    sample = _all_int16() >> 3  # 13-bit linear, as G.711 A-law takes it
    negative = sample < 0
    magnitude = np.where(negative, -sample - 1, sample)  # one's complement keeps -1 next to 0
    # Segment 0 is [0, 32); segment k >= 1 is [16 << k, 32 << k). Segments 0 and 1 share a step of 2
    # (the linear part of the curve), so both shift by 1. Magnitudes stop at 4095, inside segment 7.
    seg = np.maximum(_bit_length(magnitude) - 5, 0)
    shift = np.maximum(seg, 1)
    mantissa = (magnitude >> shift) & 0x0F
    code = (seg << 4) | mantissa
    # Even bits are inverted on the wire (0x55); the sign bit set means positive.
    code = np.where(negative, code ^ 0x55, code ^ 0xD5)
    return code.astype(np.uint8)


def _bit_length(values: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """Bit length of non-negative int32 values (0 for 0), vectorised: ``frexp`` gives it exactly."""
    return np.frexp(values.astype(np.float64))[1].astype(np.int32)


@cache
def _ulaw_decode_table() -> _Linear:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    seg = (code >> 4) & 0x07
    magnitude = ((((code & 0x0F) << 3) + (_ULAW_BIAS << 2)) << seg) - (_ULAW_BIAS << 2)
    return np.where(code & 0x80, -magnitude, magnitude).astype(PCM16)


@cache
def _alaw_decode_table() -> _Linear:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (code >> 4) & 0x07
    step = ((code & 0x0F) << 1) + 1  # middle of the quantisation interval, in half steps
    magnitude = np.where(seg == 0, step << 3, (step + 32) << (seg + 2))
    return np.where(code & 0x80, magnitude, -magnitude).astype(PCM16)


@cache
def _split_table(law: str) -> tuple[bytes, bytes]:
    """The decode table as two ``bytes.translate`` tables: low bytes and high bytes of each sample."""
    table = (_ulaw_decode_table() if law == "ulaw" else _alaw_decode_table()).view(np.uint8)
    return table[0::2].tobytes(), table[1::2].tobytes()


def _encode(pcm: bytes | bytearray | memoryview, table: _Codes) -> bytes:
    if type(pcm) is not bytes or len(pcm) & 1:  # the common case skips the full check
        check_pcm(pcm, 2)
    return table.take(np.frombuffer(pcm, dtype="<u2")).tobytes()


def _decode(codes: bytes | bytearray | memoryview, law: str) -> bytes:
    if type(codes) is not bytes:
        codes = bytes(check_pcm(codes, 1, "codes"))
    if len(codes) > _TRANSLATE_MAX:
        table = _ulaw_decode_table() if law == "ulaw" else _alaw_decode_table()
        return table.take(np.frombuffer(codes, dtype=np.uint8)).tobytes()
    # Two translations and two strided copies, all in C, beat numpy's call overhead on short chunks.
    low, high = _split_table(law)
    out = bytearray(2 * len(codes))
    out[0::2] = codes.translate(low)
    out[1::2] = codes.translate(high)
    return bytes(out)


def ulaw_encode(pcm: bytes | bytearray | memoryview) -> bytes:
    """Encode 16-bit PCM to G.711 μ-law, one byte per sample.

    Args:
        pcm: 16-bit little-endian PCM (any rate; telephony uses 8 kHz mono).

    Returns:
        The μ-law codes, ``len(pcm) // 2`` bytes.

    Raises:
        VoxpipeUsageError: ``pcm`` is not bytes-like or has an odd number of bytes.
    """
    return _encode(pcm, _ulaw_encode_table())


def ulaw_decode(codes: bytes | bytearray | memoryview) -> bytes:
    """Decode G.711 μ-law codes to 16-bit little-endian PCM, two bytes per code.

    Raises:
        VoxpipeUsageError: ``codes`` is not bytes-like.
    """
    return _decode(codes, "ulaw")


def alaw_encode(pcm: bytes | bytearray | memoryview) -> bytes:
    """Encode 16-bit PCM to G.711 A-law, one byte per sample.

    Args:
        pcm: 16-bit little-endian PCM (any rate; telephony uses 8 kHz mono).

    Returns:
        The A-law codes, ``len(pcm) // 2`` bytes.

    Raises:
        VoxpipeUsageError: ``pcm`` is not bytes-like or has an odd number of bytes.
    """
    return _encode(pcm, _alaw_encode_table())


def alaw_decode(codes: bytes | bytearray | memoryview) -> bytes:
    """Decode G.711 A-law codes to 16-bit little-endian PCM, two bytes per code.

    Raises:
        VoxpipeUsageError: ``codes`` is not bytes-like.
    """
    return _decode(codes, "alaw")

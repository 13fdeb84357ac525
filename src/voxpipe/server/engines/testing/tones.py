"""The tone alphabet shared by the test TTS and the test STT: text becomes audio and comes back exactly.

Every character of ``ALPHABET`` is one tone of ``SEGMENT_MS`` milliseconds at ``400 + 50 * index`` Hz
(all below 4 kHz, so the audio survives G.711 at 8 kHz). Characters outside the alphabet are dropped on
the way in (upper case is folded to lower case first). Decoding finds the first loud sample, cuts the
rest into segments and takes the strongest frequency of the middle of each: resampling, G.711 and a
leading silence of any length do not change the result. Silent segments are skipped, so a pause of whole
segments inside the speech (a mid-sentence pause in a turn-taking test) is heard as nothing. Audio that
is not made of these tones decodes to ``None`` (the caller then falls back to a description such as
``"<1200 ms of audio>"``).
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

__all__ = ["ALPHABET", "SAMPLE_RATE", "SEGMENT_MS", "decode_tones", "encode_tones", "normalize_text"]

ALPHABET = " abcdefghijklmnopqrstuvwxyz0123456789.,?!'-:"
SAMPLE_RATE = 24000
SEGMENT_MS = 30
_SEGMENT = SAMPLE_RATE * SEGMENT_MS // 1000
_AMPLITUDE = 0.3
_BASE_HZ = 400.0
_STEP_HZ = 50.0
_FFT_SIZE = 2048
_START_LEVEL = 0.05  # first sample louder than this (fraction of full scale) starts the first tone
_PURITY = 0.4  # share of the segment's energy the strongest bin must hold to count as a tone


def normalize_text(text: str) -> str:
    """The text as it will sound: lower case, only characters of the alphabet."""
    return "".join(ch for ch in text.lower() if ch in ALPHABET)


def _frequency(index: int) -> float:
    return _BASE_HZ + _STEP_HZ * index


@functools.lru_cache(maxsize=16)
def _tone_table(segment: int) -> dict[str, bytes]:
    """The PCM16 tone of every character for one segment length (made once; encoding is then a join)."""
    t = np.arange(segment, dtype=np.float64) / SAMPLE_RATE
    ramp = np.minimum(1.0, np.minimum(np.arange(segment), np.arange(segment)[::-1]) / 48.0)
    return {
        ch: (np.sin(2 * np.pi * _frequency(index) * t) * ramp * _AMPLITUDE * 32767.0).astype("<i2").tobytes()
        for index, ch in enumerate(ALPHABET)
    }


def encode_tones(text: str, *, speed: float = 1.0) -> bytes:
    """PCM16 at 24 kHz: one tone per character of ``normalize_text(text)``; ``speed`` > 1 is shorter."""
    table = _tone_table(max(1, round(_SEGMENT / speed)))
    return b"".join(table[ch] for ch in normalize_text(text))


@functools.lru_cache(maxsize=8)
def _window(size: int) -> npt.NDArray[np.float64]:
    return np.hanning(size)


def decode_tones(pcm16: bytes, sample_rate: int = SAMPLE_RATE) -> str | None:
    """Read back text made by ``encode_tones`` (at ``speed`` 1), or None if the audio is not such tones.

    All segments are analysed in one batched FFT (this runs on the event loop in every test turn).

    Args:
        pcm16: mono PCM16 audio, possibly with silence before and after the tones.
        sample_rate: its rate (segments and frequencies are measured at this rate).
    """
    samples = np.frombuffer(pcm16[: len(pcm16) // 2 * 2], dtype="<i2").astype(np.float64) / 32768.0
    loud = np.flatnonzero(np.abs(samples) > _START_LEVEL)
    if loud.size == 0:
        return None
    segment = sample_rate * SEGMENT_MS // 1000
    # The ramp keeps the first samples quiet: step back to where the tone really began.
    start = max(0, int(loud[0]) - segment // 10)
    count = (len(samples) - start) // segment
    if count == 0:
        return None
    segments = samples[start : start + count * segment].reshape(count, segment)
    middles = segments[:, segment // 4 : segment * 3 // 4]
    tones = np.max(np.abs(middles), axis=1) >= _START_LEVEL
    if not tones[0]:
        return None
    middles = middles[tones]  # silent segments (a pause of whole segments, trailing silence) say nothing
    spectra = np.abs(np.fft.rfft(middles * _window(middles.shape[1]), _FFT_SIZE, axis=1)) ** 2
    peaks = np.argmax(spectra, axis=1)
    totals = spectra.sum(axis=1)
    bins = np.arange(spectra.shape[1])
    in_lobe = np.abs(bins[None, :] - peaks[:, None]) <= 10
    purity = (spectra * in_lobe).sum(axis=1) / np.maximum(totals, 1e-12)
    indices = np.rint((peaks * sample_rate / _FFT_SIZE - _BASE_HZ) / _STEP_HZ).astype(int)
    if (purity < _PURITY).any() or (indices < 0).any() or (indices >= len(ALPHABET)).any():
        return None
    return "".join(ALPHABET[index] for index in indices)

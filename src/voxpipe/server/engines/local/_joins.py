"""Trimming the silence at the edges of a speech piece, so pieces played back to back join like speech.

The server speaks an answer piece by piece (``server/connection/speech_chunks.py``), and Piper pads
each synthesized sentence: 30-60 ms of silence before the first sound and 120-260 ms after the last
(measured on six pieces, threshold ``QUIET``). Joined as they are, "The capital" and "of France is
Paris." leave about 200 ms of dead air mid-sentence, where a person makes none.

So each piece's audio is trimmed at its edges:

* its leading silence is cut to ``LEAD_S`` (a fade in over it, so the first sample is near zero; when
  Piper left less than ``MIN_FADE_S`` before the sound, as it does about once in fifteen syntheses of
  "The capital", the fade reaches into the sound's first milliseconds rather than start with a click);
* a piece that ends mid-sentence (no closing punctuation) keeps ``MID_SENTENCE_TAIL_S`` of its trailing
  silence, faded out to zero, so the next piece follows as the next word would;
* a piece ending a sentence or clause keeps Piper's own trailing silence: the pause its voice makes
  there (120-260 ms), which with the next piece's ``LEAD_S`` is the pause between two sentences.

The engine trims each part it synthesizes (a long sentence is cut into parts, ``speakable_parts``), so
those parts join in the same way. Silence between sentences inside one part is Piper's and is kept.

Nothing voiced waits: a chunk's voiced part leaves at once and only its trailing silence is held, until
the next chunk (then it leaves whole) or the part's end (then it is cut or kept by the rule above).
"""

from __future__ import annotations

import numpy as np

__all__ = ["LEAD_S", "MID_SENTENCE_TAIL_S", "MIN_FADE_S", "QUIET", "PieceEdges", "ends_mid_sentence"]

#: Samples at or below this magnitude (int16; about -50 dBFS) are silence. Piper's padding stays under
#: 10; the softest word edges ("s", "t") rise above 100 within a few milliseconds of their start.
QUIET = 100
#: Kept before a piece's first sound, faded in.
LEAD_S = 0.02
#: Kept after the last sound of a piece that ends mid-sentence, faded out.
MID_SENTENCE_TAIL_S = 0.03
#: The shortest fade in at a piece's start, over its sound if too little silence comes before it.
MIN_FADE_S = 0.003

_CLOSERS = "\"')]»\u201d\u2019"  # closing quotes (straight and curly) and brackets
_PAUSE_MARKS = ".!?;:,…"


def ends_mid_sentence(text: str) -> bool:
    """True unless ``text`` ends at sentence or clause punctuation (closing quotes and brackets aside)."""
    stripped = text.rstrip().rstrip(_CLOSERS)
    return not stripped or stripped[-1] not in _PAUSE_MARKS


class PieceEdges:
    """Trims one piece's audio (int16 mono bytes, fed chunk by chunk) at its edges; see the module docstring.

    Args:
        sample_rate: of the audio fed.
        mid_sentence: the piece ends mid-sentence (``ends_mid_sentence(text)``): keep only a short tail.
    """

    def __init__(self, sample_rate: int, *, mid_sentence: bool) -> None:
        self._lead = round(LEAD_S * sample_rate)
        self._min_fade = max(1, round(MIN_FADE_S * sample_rate))
        self._tail = round(MID_SENTENCE_TAIL_S * sample_rate) if mid_sentence else None
        self._voiced = False  # a sound has been passed on: leading silence is over
        self._held = np.zeros(0, dtype=np.int16)  # trailing silence not yet passed on
        self.removed = 0  # samples cut so far

    def feed(self, chunk: bytes) -> bytes:
        """The part of ``chunk`` that can be played now (maybe preceded by silence held from before)."""
        samples = np.frombuffer(chunk, dtype="<i2").astype(np.int16)
        loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > QUIET)
        if loud.size == 0:  # all silence: held, it may be the piece's trailing silence
            self._held = np.concatenate([self._held, samples])
            return b""
        first, last = int(loud[0]), int(loud[-1]) + 1
        if not self._voiced:
            self._voiced = True
            start = max(0, first - self._lead)
            self.removed += len(self._held) + start
            fade = max(first - start, self._min_fade)
            samples, last = _fade_in(samples[start:], fade), last - start
            self._held = np.zeros(0, dtype=np.int16)
        out = np.concatenate([self._held, samples[:last]])
        self._held = samples[last:]
        return out.astype("<i2").tobytes()

    def finish(self) -> bytes:
        """What is left at the piece's end: its trailing silence, cut short if it ends mid-sentence."""
        held, self._held = self._held, np.zeros(0, dtype=np.int16)
        if not self._voiced or self._tail is None or len(held) <= self._tail:
            return held.astype("<i2").tobytes()
        self.removed += len(held) - self._tail
        ramp = np.linspace(1.0, 0.0, self._tail)
        return (held[: self._tail] * ramp).round().astype("<i2").tobytes()


def _fade_in(samples: np.ndarray, length: int) -> np.ndarray:
    """``samples`` with their first ``length`` scaled up from zero, so playback starts without a click."""
    length = min(length, samples.size)
    if length <= 0:
        return samples
    out = samples.copy()
    out[:length] = (samples[:length] * np.linspace(0.0, 1.0, length, endpoint=False)).round()
    return out

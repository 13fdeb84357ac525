"""Cutting streamed LLM text into the pieces the TTS speaks.

Whole sentences sound best, but waiting for the first full stop delays the first audio. So the first
piece may end at a clause boundary (``,``, ``;``, ``:``) once it holds at least 8 characters, or, with no
punctuation yet, between words once it holds ``FIRST_PIECE_WORDS`` (2) whole words and 8 characters, when
the rest follows quickly: the text so far came at ``QUICK_TOKENS_PER_S`` or faster (a speculation's
replay, an idle machine). Piper speaks two words for about 0.65 s (its ~150 ms of trailing silence is
trimmed at a mid-sentence join: ``engines/local/_joins.py``), in which the LLM must make the rest of the
sentence; slower, the first piece waits for ``SLOW_PIECE_WORDS`` (4) words, or the listener hears a gap
after the first two (``bench/voice_latency.py`` counts such stalls: with two words always, 14 in 36 turns
against 4 with four words; with this rule 8 against 2, for a first audio 65-740 ms sooner, p50 per mode).
In a real turn the small LLM streams 8-12 tokens/s on this 2-core machine (a step is bound by memory
bandwidth: ~390 MB of weights read per token), so each word held back is about 0.1 s more before the first
audio, and Piper starts a 2-word piece in 60-80 ms against 100 ms for 4 words.

The rest of that first sentence is the second piece, ended by the sentence or, sooner, by a clause
boundary (a natural pause; it also bounds the wait for a long first sentence); every later piece is a
whole sentence, so a cut costs the intonation of the first words only. Cuts are made before whitespace,
so the pieces put together are exactly the text (the next piece keeps its leading space), and never
inside a word: a word is cut off only once the next one has begun.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

__all__ = ["FIRST_PIECE_WORDS", "QUICK_TOKENS_PER_S", "SLOW_PIECE_WORDS", "SpeechChunker"]

_SENTENCE_END = re.compile(r"(?<=[.!?])(?=\s)")
_CLAUSE_END = re.compile(r"(?<=[,;:])(?=\s)")
_MIN_CHARS = 8  # a first piece (or a clause ending the second) shorter than this waits for more words
_SPACE = re.compile(r"\s+")
#: With no punctuation yet, the first piece ends once this many whole words came (and ``_MIN_CHARS``) ...
FIRST_PIECE_WORDS = 2
#: ... when the text came at least this fast (deltas per second, about tokens); otherwise after
#: ``SLOW_PIECE_WORDS`` words.
QUICK_TOKENS_PER_S = 10.0
SLOW_PIECE_WORDS = 4


class SpeechChunker:
    """Collects text deltas and hands out complete pieces for the TTS.

    Args:
        clock: seconds, for the pace of the deltas (tests pass their own).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._pending = ""
        self._pieces = 0  # handed out so far
        self._in_first_sentence = True  # no piece handed out has ended a sentence yet
        self._deltas = 0
        self._first_at = 0.0

    def push(self, text: str) -> list[str]:
        """Add a delta; return the pieces it completed (possibly none)."""
        if not self._deltas:
            self._first_at = self._clock()
        self._deltas += 1
        self._pending += text
        pieces: list[str] = []
        while self._in_first_sentence:
            cut = self._early_cut(words=self._pieces == 0)
            if cut is None:
                return pieces
            piece, self._pending = self._pending[:cut], self._pending[cut:]
            self._hand_out(piece, pieces)
        *complete, self._pending = _SENTENCE_END.split(self._pending)
        for piece in complete:
            self._hand_out(piece, pieces)
        return pieces

    def _hand_out(self, piece: str, pieces: list[str]) -> None:
        if piece.strip():
            pieces.append(piece)
            self._pieces += 1
        if _SENTENCE_END.search(piece + " "):
            self._in_first_sentence = False

    def _early_cut(self, *, words: bool) -> int | None:
        """Where a piece of the first sentence ends: the sentence end, a clause end at least 8 characters
        in, or (``words``: the first piece) the last gap between words once enough whole words
        (``_first_piece_words``) and 8 characters came before it."""
        sentence = _SENTENCE_END.search(self._pending)
        clause = next(
            (
                m.start()
                for m in _CLAUSE_END.finditer(self._pending)
                if len(self._pending[: m.start()].strip()) >= _MIN_CHARS
            ),
            None,
        )
        cuts = [cut for cut in (sentence.start() if sentence else None, clause) if cut is not None]
        if cuts:
            return min(cuts)
        gaps = list(_SPACE.finditer(self._pending))
        if not (words and gaps):
            return None
        before = self._pending[: gaps[-1].start()]
        if len(before.split()) >= self._first_piece_words() and len(before.strip()) >= _MIN_CHARS:
            return gaps[-1].start()
        return None

    def _first_piece_words(self) -> int:
        """``FIRST_PIECE_WORDS`` when the deltas so far came quickly, else ``SLOW_PIECE_WORDS``."""
        elapsed = self._clock() - self._first_at
        if elapsed <= 0 or (self._deltas - 1) / elapsed >= QUICK_TOKENS_PER_S:
            return FIRST_PIECE_WORDS
        return max(FIRST_PIECE_WORDS, SLOW_PIECE_WORDS)

    def rest(self) -> str:
        """The text not handed out yet (at the end of the message); empties the chunker."""
        rest, self._pending = self._pending, ""
        return rest if rest.strip() else ""

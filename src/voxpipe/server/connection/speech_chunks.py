"""Cutting streamed LLM text into the pieces the TTS speaks.

Whole sentences sound best, but waiting for the first full stop delays the first audio. So the first
piece may end at a clause boundary (``,``, ``;``, ``:``) once it holds at least 8 characters, or, with no
punctuation yet, between words once it holds 4 whole words (a small LLM streams 25-30 tokens/s on 2 busy
cores, so a first sentence of 12 words meant about 0.4 s of waiting before the TTS could start; the cut
costs a little intonation in the first words). Every later piece is a whole sentence. Cuts are made
before whitespace, so the pieces put together are exactly the text (the next piece keeps its leading
space).
"""

from __future__ import annotations

import re

__all__ = ["SpeechChunker"]

_SENTENCE_END = re.compile(r"(?<=[.!?])(?=\s)")
_CLAUSE_END = re.compile(r"(?<=[,;:])(?=\s)")
_FIRST_CHUNK_MIN_CHARS = 8  # a first clause shorter than this waits for more words
_FIRST_CHUNK_WORDS = 4  # with no punctuation yet, the first piece ends after this many whole words
_SPACE = re.compile(r"\s+")


class SpeechChunker:
    """Collects text deltas and hands out complete pieces for the TTS."""

    def __init__(self) -> None:
        self._pending = ""
        self._started = False

    def push(self, text: str) -> list[str]:
        """Add a delta; return the pieces it completed (possibly none)."""
        self._pending += text
        pieces: list[str] = []
        if not self._started:
            cut = self._first_cut()
            if cut is None:
                return pieces
            pieces.append(self._pending[:cut])
            self._pending = self._pending[cut:]
            self._started = True
        *complete, self._pending = _SENTENCE_END.split(self._pending)
        pieces += complete
        return [piece for piece in pieces if piece.strip()]

    def _first_cut(self) -> int | None:
        """Where the first piece ends: a sentence end, a clause end at least 8 characters in, or else the
        last gap between words once 4 whole words came before it."""
        sentence = _SENTENCE_END.search(self._pending)
        clause = next(
            (m.start() for m in _CLAUSE_END.finditer(self._pending) if m.start() >= _FIRST_CHUNK_MIN_CHARS),
            None,
        )
        cuts = [cut for cut in (sentence.start() if sentence else None, clause) if cut is not None]
        if cuts:
            return min(cuts)
        gaps = list(_SPACE.finditer(self._pending))
        if gaps and len(self._pending[: gaps[-1].start()].split()) >= _FIRST_CHUNK_WORDS:
            return gaps[-1].start()
        return None

    def rest(self) -> str:
        """The text not handed out yet (at the end of the message); empties the chunker."""
        rest, self._pending = self._pending, ""
        return rest if rest.strip() else ""

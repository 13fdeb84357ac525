"""Cutting streamed LLM text into the pieces the TTS speaks.

Whole sentences sound best, but waiting for the first full stop delays the first audio. So the first
piece may end at a clause boundary (``,``, ``;``, ``:``) once it holds at least 8 characters; every later
piece is a whole sentence. Cuts are made before the whitespace after the punctuation, so the pieces put
together are exactly the text (the next piece keeps its leading space).
"""

from __future__ import annotations

import re

__all__ = ["SpeechChunker"]

_SENTENCE_END = re.compile(r"(?<=[.!?])(?=\s)")
_CLAUSE_END = re.compile(r"(?<=[,;:])(?=\s)")
_FIRST_CHUNK_MIN_CHARS = 8  # a first clause shorter than this waits for more words


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
        """Where the first piece ends: a sentence end, or a clause end at least 8 characters in."""
        sentence = _SENTENCE_END.search(self._pending)
        clause = next(
            (m.start() for m in _CLAUSE_END.finditer(self._pending) if m.start() >= _FIRST_CHUNK_MIN_CHARS),
            None,
        )
        cuts = [cut for cut in (sentence.start() if sentence else None, clause) if cut is not None]
        return min(cuts) if cuts else None

    def rest(self) -> str:
        """The text not handed out yet (at the end of the message); empties the chunker."""
        rest, self._pending = self._pending, ""
        return rest if rest.strip() else ""

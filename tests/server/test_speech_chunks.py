"""``SpeechChunker``: a quick first clause, then whole sentences, and nothing lost or added."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from voxpipe.server.connection.speech_chunks import SpeechChunker


def feed(words: list[str]) -> tuple[list[str], str]:
    chunker = SpeechChunker()
    pieces: list[str] = []
    for index, word in enumerate(words):
        pieces += chunker.push(word if index == 0 else " " + word)
    return pieces, chunker.rest()


def test_first_piece_may_end_at_a_clause_then_sentences() -> None:
    pieces, rest = feed(["You", "said:", "what", "is", "the", "weather", "like?", "Fine,", "thanks.", "Bye"])
    assert pieces == ["You said:", " what is the weather like?", " Fine, thanks."]
    assert rest == " Bye"


def test_short_first_clause_waits() -> None:
    pieces, _ = feed(["Hi,", "you.", "And", "more", "words", "here."])
    assert pieces[0] == "Hi, you."


@given(st.lists(st.text(alphabet="ab ,.;:?!", min_size=1, max_size=6), max_size=30))
def test_pieces_put_together_are_the_text(deltas: list[str]) -> None:
    chunker = SpeechChunker()
    pieces: list[str] = []
    for delta in deltas:
        pieces += chunker.push(delta)
    text = "".join(deltas)
    rest = chunker.rest()
    joined = "".join(pieces) + rest
    assert joined.strip() == text.strip() or not text.strip()

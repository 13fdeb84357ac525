"""``SpeechChunker``: a quick first piece (a clause, or two words), the rest of the first sentence, then
whole sentences; words are never cut, and nothing is lost or added."""

from __future__ import annotations

import pytest
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


def test_first_piece_is_two_words_then_the_rest_of_the_sentence_then_whole_sentences() -> None:
    words = ["The", "capital", "of", "France", "is", "Paris.", "It", "is", "old,", "and", "big.", "Yes"]
    pieces, rest = feed(words)
    assert pieces == ["The capital", " of France is Paris.", " It is old, and big."]
    assert rest == " Yes"


def test_first_piece_waits_for_eight_characters_and_never_cuts_a_word() -> None:
    chunker = SpeechChunker()
    assert chunker.push("It") == [] and chunker.push(" is") == [] and chunker.push(" a") == []
    assert chunker.push(" gr") == []  # "It is a" is too short a piece; "gr" may go on
    assert chunker.push("eat") == []
    assert chunker.push(" day") == ["It is a great"]  # cut at the gap: the word is whole
    assert chunker.rest() == " day"


@pytest.mark.parametrize(("tokens_per_s", "first"), [(20.0, "Paris is"), (5.0, "Paris is the capital")])
def test_a_slow_stream_waits_for_four_words_before_the_first_piece(tokens_per_s: float, first: str) -> None:
    """Two words give the LLM about 0.8 s of speech to make the rest in: only when it streams quickly."""
    now = [0.0]
    chunker = SpeechChunker(clock=lambda: now[0])
    pieces: list[str] = []
    for index, word in enumerate(["Paris", "is", "the", "capital", "of", "France."]):
        pieces += chunker.push(word if index == 0 else " " + word)
        now[0] += 1 / tokens_per_s
    assert pieces[0] == first
    assert "".join(pieces) + chunker.rest() == "Paris is the capital of France."


def test_the_rest_of_the_first_sentence_may_end_at_a_clause() -> None:
    words = ["Sure", "thing", "my", "friend,", "the", "capital", "is", "Paris.", "Next,", "one."]
    pieces, rest = feed(words)
    assert [*pieces, rest] == ["Sure thing", " my friend,", " the capital is Paris.", " Next, one."]


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

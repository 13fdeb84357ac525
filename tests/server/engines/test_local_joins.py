"""Trimming the silence at a speech piece's edges (``_joins``), on synthetic audio: no model needed."""

from __future__ import annotations

import numpy as np
import pytest

from voxpipe.server.engines.local._joins import (
    LEAD_S,
    MID_SENTENCE_TAIL_S,
    MIN_FADE_S,
    QUIET,
    PieceEdges,
    ends_mid_sentence,
)

RATE = 22_050


def tone(seconds: float) -> np.ndarray:
    """A 220 Hz tone at a third of full scale, starting at a peak (an abrupt, loud edge)."""
    t = np.arange(round(seconds * RATE)) / RATE
    return (10_000 * np.cos(2 * np.pi * 220 * t)).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    noise = np.random.default_rng(0).integers(-5, 6, round(seconds * RATE))  # Piper's padding is this quiet
    return noise.astype(np.int16)


def run(edges: PieceEdges, *chunks: np.ndarray) -> np.ndarray:
    out = b"".join(edges.feed(chunk.astype("<i2").tobytes()) for chunk in chunks) + edges.finish()
    return np.frombuffer(out, dtype="<i2")


def edge_silence(samples: np.ndarray) -> tuple[float, float]:
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > QUIET)
    return loud[0] / RATE, (samples.size - loud[-1] - 1) / RATE


@pytest.mark.parametrize(
    ("text", "mid"),
    [
        ("The capital", True),
        ("of France is Paris.", False),
        ("Well,", False),
        ('He said "yes."', False),
        ("Really?) ", False),
        ("", True),
    ],
)
def test_ends_mid_sentence(text: str, mid: bool) -> None:
    assert ends_mid_sentence(text) is mid


def test_mid_sentence_piece_keeps_a_short_faded_tail_and_lead() -> None:
    voiced = tone(0.5)
    piece = np.concatenate([silence(0.05), voiced, silence(0.18)])
    edges = PieceEdges(RATE, mid_sentence=True)
    out = run(edges, piece)
    lead, tail = edge_silence(out)
    assert lead <= LEAD_S and tail <= MID_SENTENCE_TAIL_S + 1 / RATE
    assert abs(int(out[0])) <= 5 and abs(int(out[-1])) <= 5  # the cuts are faded: no click
    assert out.size == piece.size - edges.removed  # the sound itself is all there
    lead_cut = silence(0.05).size - round(LEAD_S * RATE)
    assert edges.removed == lead_cut + silence(0.18).size - round(MID_SENTENCE_TAIL_S * RATE)


def test_sentence_end_keeps_the_pause_and_sentences_inside_a_piece_keep_theirs() -> None:
    first = np.concatenate([silence(0.04), tone(0.3), silence(0.15)])
    second = np.concatenate([silence(0.04), tone(0.3), silence(0.15)])
    edges = PieceEdges(RATE, mid_sentence=False)
    out = run(edges, first, second)
    lead, tail = edge_silence(out)
    assert lead <= LEAD_S
    assert tail == pytest.approx(0.15, abs=2 / RATE)  # the sentence pause is Piper's own
    # Only the first lead is cut: the pause between the two sentences stays.
    assert edges.removed == silence(0.04).size - round(LEAD_S * RATE)
    assert out.size == first.size + second.size - edges.removed


def test_voiced_audio_is_not_held_back() -> None:
    edges = PieceEdges(RATE, mid_sentence=True)
    voiced = tone(0.2)
    now = np.frombuffer(edges.feed(np.concatenate([voiced, silence(0.1)]).tobytes()), dtype="<i2")
    assert now.size >= voiced.size - 1  # all the sound leaves at once; only the silence waits


def test_silent_chunks_before_the_sound_are_leading_silence() -> None:
    edges = PieceEdges(RATE, mid_sentence=True)
    out = run(edges, silence(0.1), np.concatenate([silence(0.03), tone(0.2)]))
    assert edge_silence(out)[0] <= LEAD_S


@pytest.mark.parametrize("lead_s", [0.0, 0.001])
def test_a_piece_that_starts_loud_is_faded_in_over_its_first_milliseconds(lead_s: float) -> None:
    # Piper now and then leaves no silence before the first sound: the piece must still not start with a click
    edges = PieceEdges(RATE, mid_sentence=True)
    sound, lead = tone(0.2), silence(lead_s)
    out = run(edges, np.concatenate([lead, sound]))
    assert out.size == lead.size + sound.size  # nothing cut: there was no silence to spare
    assert abs(int(out[0])) <= 5
    assert abs(int(out[lead.size])) <= abs(int(sound[0])) // 2  # the loud edge is softened, not passed on
    fade = round(MIN_FADE_S * RATE)  # over the lead and the sound's first samples
    onset = fade - lead.size
    assert np.all(np.abs(out[lead.size : fade].astype(np.int32)) <= np.abs(sound[:onset].astype(np.int32)))
    assert np.array_equal(out[fade:], sound[onset:])  # only the onset is touched


def test_an_all_silent_piece_is_passed_whole() -> None:
    edges = PieceEdges(RATE, mid_sentence=True)
    assert run(edges, silence(0.1)).size == round(0.1 * RATE)
    assert edges.removed == 0

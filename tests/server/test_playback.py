"""The server's estimate of what an answer's listener has still to hear: audio plays from its first delta
on in real time, a late delta is played after a gap, pieces waiting for the TTS count as their speech."""

from __future__ import annotations

import pytest

from voxpipe.server.connection.playback import SECONDS_PER_CHAR, Playback

from .._shared import ManualClock


def test_audio_plays_in_real_time_from_the_first_delta() -> None:
    clock = ManualClock()
    playback = Playback(clock)
    assert not playback.started and playback.audio_ahead() == 0.0
    assert playback.runs_out_at() == 100.0  # nothing yet: the listener hears silence now
    playback.audio_sent(1.0)
    playback.audio_sent(0.5)  # queued behind the first second
    assert playback.started
    clock.now += 0.4
    assert playback.audio_ahead() == pytest.approx(1.1)
    assert playback.runs_out_at() == pytest.approx(101.5)


def test_a_late_delta_plays_after_a_gap() -> None:
    clock = ManualClock()
    playback = Playback(clock)
    playback.audio_sent(0.5)
    clock.now += 2.0  # the listener ran out 1.5 s ago
    assert playback.audio_ahead() == 0.0
    assert playback.runs_out_at() == 100.5  # when the silence began: a deadline long past
    playback.audio_sent(1.0)
    assert playback.audio_ahead() == pytest.approx(1.0)  # from now, not from the end of the last audio


def test_pieces_waiting_for_the_tts_count_as_their_speech() -> None:
    clock = ManualClock()
    playback = Playback(clock)
    playback.audio_sent(1.0)
    playback.text_queued(30)
    playback.text_queued(15)
    assert playback.speech_ahead() == pytest.approx(1.0 + 45 * SECONDS_PER_CHAR)
    assert playback.runs_out_at(speech=True) == pytest.approx(101.0 + 45 * SECONDS_PER_CHAR)
    playback.text_spoken(30)  # synthesized: its audio counts as it is sent
    assert playback.speech_ahead() == pytest.approx(1.0 + 15 * SECONDS_PER_CHAR)
    playback.text_spoken(100)
    assert playback.speech_ahead() == pytest.approx(1.0)

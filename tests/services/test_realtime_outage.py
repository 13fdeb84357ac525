"""What a realtime service keeps across a lost link: the audio the dead session's input buffer held."""

from __future__ import annotations

import base64

from voxpipe.services._realtime_service.outage import (
    END_OF_TURN_MARGIN_MS,
    MAX_UNTAKEN_TURNS,
    QUIET_RESEND_MS,
    SentAudio,
)


def chunk(tag: int, ms: int = 100) -> str:
    """A PCM16 chunk at 24 kHz (48 bytes a ms) whose every byte is ``tag``."""
    return base64.b64encode(bytes([tag]) * (48 * ms)).decode("ascii")


def tags(chunks: list[str]) -> list[int]:
    return [base64.b64decode(c)[0] for c in chunks]


def test_while_the_user_speaks_the_whole_uncommitted_turn_goes_to_the_new_session() -> None:
    sent = SentAudio(max_ms=5000)
    for n in range(1, 21):  # 2 s, nothing committed
        sent.sent(chunk(n), 100)
    again, ms = sent.for_new_session(still_queued=2, speaking=True)
    assert tags(again) == list(range(1, 19)) and ms == 1800  # the two still queued go out on their own
    assert sent.kept_ms == 2000  # the new session's buffer: what went again, then what was queued


def test_while_quiet_only_the_last_second_goes() -> None:
    sent = SentAudio(max_ms=5000)
    for n in range(1, 31):
        sent.sent(chunk(n), 100)
    again, ms = sent.for_new_session(still_queued=0, speaking=False)
    assert ms == QUIET_RESEND_MS and tags(again) == list(range(21, 31))


def test_a_taken_turn_never_goes_again_and_the_append_it_ended_in_is_cut() -> None:
    sent = SentAudio(max_ms=5000)
    for n in range(1, 11):
        sent.sent(chunk(n), 100)
    assert END_OF_TURN_MARGIN_MS == 100
    sent.speech_stopped(350)  # the server's VAD ended the turn in the fourth append; its tail rings on
    assert sent.kept_ms == 1000  # committed, not answered yet: it would die with the session
    sent.turn_taken()  # its answer started (or its transcript came)
    again, ms = sent.for_new_session(still_queued=0, speaking=True)
    assert ms == 550 and tags(again) == list(range(5, 11))
    assert len(base64.b64decode(again[0])) == 48 * 50  # only what followed the end of the turn and margin


def test_our_own_commit_takes_everything_and_the_servers_confirmation_takes_nothing_more() -> None:
    sent = SentAudio(max_ms=5000)
    sent.sent(chunk(1), 100)
    sent.commit_sent()  # no turn detection: we committed
    sent.sent(chunk(2), 100)
    sent.turn_taken()  # the answer to our commit started
    again, _ = sent.for_new_session(still_queued=0, speaking=True)
    assert tags(again) == [2]


def test_the_kept_audio_is_bounded_and_nothing_is_kept_at_zero() -> None:
    sent = SentAudio(max_ms=300)
    for n in range(1, 11):
        sent.sent(chunk(n), 100)
    assert sent.kept_ms == 300
    assert tags(sent.for_new_session(still_queued=0, speaking=True)[0]) == [8, 9, 10]
    off = SentAudio(max_ms=0)
    off.sent(chunk(1), 100)
    assert off.for_new_session(still_queued=0, speaking=True) == ([], 0)


def ten_appends_and_a_turn_ending_at(end_ms: int) -> SentAudio:
    sent = SentAudio(max_ms=5000)
    for n in range(1, 11):
        sent.sent(chunk(n), 100)
    sent.speech_stopped(end_ms)
    return sent


def test_an_answered_turn_whose_words_have_not_come_goes_again_whole() -> None:
    # a server that transcribes after it answers: the link dies with the answer started, the words unknown
    sent = ten_appends_and_a_turn_ending_at(350)
    sent.answer_started(transcribed=True)
    assert sent.answered_unheard
    again, ms = sent.for_new_session(still_queued=0, speaking=False)  # the user is quiet: the answer plays
    assert tags(again) == list(range(1, 11)) and ms == 1000  # the question with it, not just the last second


def test_an_answered_turn_is_taken_when_its_words_come_or_its_answer_ends() -> None:
    for taken_by in ("words", "answer heard"):
        sent = ten_appends_and_a_turn_ending_at(350)
        sent.answer_started(transcribed=True)
        if taken_by == "words":
            sent.turn_taken()
        else:
            sent.answer_heard()
        assert not sent.answered_unheard
        again, _ = sent.for_new_session(still_queued=0, speaking=True)
        assert tags(again) == list(range(5, 11)), taken_by


def test_without_transcription_the_answer_start_takes_the_turn() -> None:
    sent = ten_appends_and_a_turn_ending_at(350)
    sent.answer_started(transcribed=False)  # no words will ever come back
    assert not sent.answered_unheard
    assert tags(sent.for_new_session(still_queued=0, speaking=True)[0]) == list(range(5, 11))


def test_an_answer_heard_takes_only_an_answered_turn() -> None:
    sent = ten_appends_and_a_turn_ending_at(350)
    sent.answer_heard()  # an answer of ours (a text turn), not to the VAD's turn: nothing is taken
    assert tags(sent.for_new_session(still_queued=0, speaking=False)[0]) == list(range(1, 11))


def test_two_turns_are_taken_in_order() -> None:
    sent = ten_appends_and_a_turn_ending_at(250)
    sent.answer_started(transcribed=True)
    sent.speech_stopped(650)  # the user spoke again before the first turn's words came back
    sent.turn_taken()  # the first turn's words: only its audio goes
    assert sent.answered_unheard is False
    assert tags(sent.for_new_session(still_queued=0, speaking=False)[0]) == list(range(4, 11))


def test_our_commit_is_kept_until_taken_and_goes_again_whole() -> None:
    sent = SentAudio(max_ms=5000)
    for n in range(1, 6):
        sent.sent(chunk(n), 100)
    sent.commit_sent()  # no turn detection: we committed the five appends
    sent.sent(chunk(6), 100)  # the next turn begins
    assert sent.commit_untaken
    sent.answer_started(transcribed=True)  # its words have not come back
    again, ms = sent.for_new_session(still_queued=1, speaking=False)
    assert tags(again) == [1, 2, 3, 4, 5] and ms == 500  # the committed turn whole; 6 is still queued
    sent.commit_sent(end_ms=ms)  # committed again on the new session: up to the resent audio only
    sent.turn_taken()  # its words came
    assert not sent.commit_untaken
    assert tags(sent.for_new_session(still_queued=0, speaking=True)[0]) == [6]


def test_turns_nobody_takes_are_bounded() -> None:
    # create_response off and no transcription: no event takes the turns the server's VAD ends
    sent = SentAudio(max_ms=60_000)
    for n in range(1, MAX_UNTAKEN_TURNS + 3):
        sent.sent(chunk(n), 100)
        sent.speech_stopped(n * 100 - END_OF_TURN_MARGIN_MS)  # each turn ends with its append
    assert len(sent._stops) == MAX_UNTAKEN_TURNS
    assert tags(sent.for_new_session(still_queued=0, speaking=False)[0]) == list(
        range(3, MAX_UNTAKEN_TURNS + 3)
    )


def test_the_end_of_a_turn_told_ended_is_found_on_the_new_sessions_buffer() -> None:
    sent = SentAudio(max_ms=500)  # keeps the last 500 ms: the new buffer starts 500 ms into the old one
    for n in range(1, 11):
        sent.sent(chunk(n), 100)
    assert sent.told_turn_end_ms() is None  # no turn ended
    sent.speech_stopped(850)  # committed, not taken yet
    assert sent.told_turn_end_ms() == 350
    sent.speech_stopped(None)  # an end with no position counts for nothing
    assert sent.told_turn_end_ms() == 350
    sent.commit_sent()  # a commit of ours is no turn the pipeline was told of by the server
    assert sent.told_turn_end_ms() == 350
    sent.speech_stopped(400)  # a turn whose audio is no longer kept
    sent.forget()
    sent.speech_stopped(400)
    assert sent.told_turn_end_ms() is None

"""What a realtime service keeps across a lost link: the audio the dead session's input buffer held."""

from __future__ import annotations

import base64

from voxpipe.services._realtime_service.outage import END_OF_TURN_MARGIN_MS, QUIET_RESEND_MS, SentAudio


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

"""The checks a live call must pass at a quiet moment (``voxpipe.testing.conversation_checks``)."""

from __future__ import annotations

from voxpipe.frames.frames import UserStartedSpeakingFrame, UserStoppedSpeakingFrame
from voxpipe.testing.conversation_checks import unmatched_user_speaking


def test_user_speaking_frames_match_when_each_start_is_ended_by_one_stop() -> None:
    start, stop = UserStartedSpeakingFrame, UserStoppedSpeakingFrame
    assert unmatched_user_speaking([]) == []
    assert unmatched_user_speaking([start(), stop(), start(), stop(emulated=True)]) == []
    assert unmatched_user_speaking([start(), start(), stop()]) == [  # a turn started twice
        "frame 1: UserStartedSpeakingFrame while the user spoke already"
    ]
    assert unmatched_user_speaking([start(), stop(), stop()]) == [
        "frame 2: UserStoppedSpeakingFrame while the user was not speaking"
    ]
    assert unmatched_user_speaking([start(), stop(), start()]) == [
        "a UserStartedSpeakingFrame was never followed by a UserStoppedSpeakingFrame"
    ]

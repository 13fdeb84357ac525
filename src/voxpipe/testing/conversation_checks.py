"""Checks a live call must pass at any quiet moment: used by the fault scenarios, the soak bench, and bots.

* the realtime service's own ``conversation_differences()``: the local context against the server's
  conversation, item by item (an item lost, duplicated or out of place shows up);
* :func:`unbalanced_frames`: every answer's start and end frames came in pairs.
* :func:`output_outside_answers`: no text or audio of an answer came after its end (a replayed answer
  played again).
* :func:`active_response_errors`: the server never answered ``conversation_already_has_active_response``.
* :func:`unmatched_user_speaking`: every ``UserStartedSpeakingFrame`` was ended by one
  ``UserStoppedSpeakingFrame`` before the next start (aggregators and observers are not left in "user
  speaking", nor told the user started or stopped twice).

Each returns a list of readable problems (empty: all is well), so a test asserts it is empty and a soak
run counts failures without stopping.
"""

from __future__ import annotations

from collections.abc import Iterable

from voxpipe.frames.audio import TTSAudioRawFrame, TTSStartedFrame, TTSStoppedFrame
from voxpipe.frames.base import Frame
from voxpipe.frames.control import ErrorFrame
from voxpipe.frames.llm import LLMFullResponseEndFrame, LLMFullResponseStartFrame
from voxpipe.frames.speech import UserStartedSpeakingFrame, UserStoppedSpeakingFrame
from voxpipe.frames.text import LLMTextFrame

__all__ = ["active_response_errors", "output_outside_answers", "unbalanced_frames", "unmatched_user_speaking"]

_ANSWER_OUTPUT = (LLMTextFrame, TTSAudioRawFrame, TTSStartedFrame)


def unbalanced_frames(frames: Iterable[Frame]) -> list[str]:
    """Start/end pairs that do not match in ``frames`` (the frames an answer's consumers saw)."""
    counts: dict[type, int] = {}
    for frame in frames:
        counts[type(frame)] = counts.get(type(frame), 0) + 1
    problems = []
    pairs = ((LLMFullResponseStartFrame, LLMFullResponseEndFrame), (TTSStartedFrame, TTSStoppedFrame))
    for start, end in pairs:
        if counts.get(start, 0) != counts.get(end, 0):
            problems.append(
                f"{counts.get(start, 0)} {start.__name__} but {counts.get(end, 0)} {end.__name__}"
            )
    return problems


def output_outside_answers(frames: Iterable[Frame]) -> list[str]:
    """An answer's text and audio among ``frames`` that came outside an answer (after its end frame)."""
    problems = []
    inside = False
    for index, frame in enumerate(frames):
        if isinstance(frame, LLMFullResponseStartFrame):
            inside = True
        elif isinstance(frame, LLMFullResponseEndFrame):
            inside = False
        elif isinstance(frame, _ANSWER_OUTPUT) and not inside:
            problems.append(f"frame {index}: {type(frame).__name__} outside an answer")
    return problems


def active_response_errors(frames: Iterable[Frame]) -> list[str]:
    """Errors reporting ``conversation_already_has_active_response`` among ``frames``."""
    return [
        frame.error
        for frame in frames
        if isinstance(frame, ErrorFrame) and "conversation_already_has_active_response" in frame.error
    ]


def unmatched_user_speaking(frames: Iterable[Frame]) -> list[str]:
    """User speaking frames among ``frames`` (one direction) that do not match.

    A start while the user is speaking already is a problem (a turn told twice: a new server session that
    hears a turn again must not start it again for the pipeline), a stop while the user is not speaking is
    too (the end told twice), and so is a start that no stop ended by the last frame (the pipeline stays in
    "user speaking").
    """
    problems = []
    speaking = False
    for index, frame in enumerate(frames):
        if isinstance(frame, UserStartedSpeakingFrame):
            if speaking:
                problems.append(f"frame {index}: UserStartedSpeakingFrame while the user spoke already")
            speaking = True
        elif isinstance(frame, UserStoppedSpeakingFrame):
            if not speaking:
                problems.append(f"frame {index}: UserStoppedSpeakingFrame while the user was not speaking")
            speaking = False
    if speaking:
        problems.append("a UserStartedSpeakingFrame was never followed by a UserStoppedSpeakingFrame")
    return problems

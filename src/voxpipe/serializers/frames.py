"""Frames that only wire formats produce or consume: keypad digits and playback marks.

They live here, not in ``voxpipe.frames``, because only telephone-style transports make them; a pipeline
that never talks to a phone never sees them. All are one level under a frame kind (STYLE.md practice 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from voxpipe.frames.base import DataFrame, SystemFrame

__all__ = ["DTMF_DIGITS", "InputDTMFFrame", "MarkReachedFrame", "OutputMarkFrame"]

DTMF_DIGITS = frozenset("0123456789*#ABCD")
"""The sixteen keys of a DTMF keypad."""


@dataclass(slots=True, kw_only=True)
class InputDTMFFrame(SystemFrame):
    """The caller pressed a key on the phone's keypad.

    Attributes:
        digit: one of ``0-9``, ``*``, ``#`` or ``A-D``.
    """

    digit: str


@dataclass(slots=True, kw_only=True)
class OutputMarkFrame(DataFrame):
    """Asks the peer to report when its playback reaches this point of the output audio.

    Ordered with the audio: the output transport sends it after the audio queued before it, and a
    peer that supports marks (Twilio) echoes it back as a :class:`MarkReachedFrame` once that audio played.

    Attributes:
        mark: a label of your choice, echoed back unchanged.
    """

    mark: str


@dataclass(slots=True, kw_only=True)
class MarkReachedFrame(SystemFrame):
    """The peer's playback reached an :class:`OutputMarkFrame` (or the mark was cleared by an interruption).

    Attributes:
        mark: the label of the mark.
    """

    mark: str

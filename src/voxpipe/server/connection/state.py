"""The states of a session and of the things inside it, as enums with their allowed moves.

``ConnectionState``: ``OPEN`` while events flow; ``CLOSING`` once the client left, the session expired or the
server stops (no new responses start); ``CLOSED`` when every task has ended. ``ResponseState``: a response
is ``IN_PROGRESS`` until it ends as ``COMPLETED``, ``CANCELLED``, ``INCOMPLETE`` or ``FAILED`` (the
protocol's statuses). ``SpeechState``: what turn detection last decided about the input buffer.
"""

from __future__ import annotations

import enum
import logging

from voxpipe.errors import VoxpipeStateError

__all__ = ["ConnectionState", "ResponseState", "SpeechState", "check_move"]

logger = logging.getLogger(__name__)


class ConnectionState(enum.Enum):
    """Lifecycle of one WebSocket session."""

    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class ResponseState(enum.Enum):
    """Lifecycle of one response; the values are the protocol's ``status`` strings."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    INCOMPLETE = "incomplete"
    FAILED = "failed"


class SpeechState(enum.Enum):
    """Turn detection's view of the input buffer."""

    IDLE = "idle"  # no turn detection, or silence
    SPEAKING = "speaking"  # speech_started sent, speech_stopped not yet
    ENDING = "ending"  # semantic VAD: silence seen, waiting longer because the words sound unfinished


_MOVES: dict[enum.Enum, frozenset[enum.Enum]] = {
    ConnectionState.OPEN: frozenset({ConnectionState.CLOSING}),
    ConnectionState.CLOSING: frozenset({ConnectionState.CLOSED}),
    ConnectionState.CLOSED: frozenset(),
    ResponseState.IN_PROGRESS: frozenset(
        {ResponseState.COMPLETED, ResponseState.CANCELLED, ResponseState.INCOMPLETE, ResponseState.FAILED}
    ),
    ResponseState.COMPLETED: frozenset(),
    ResponseState.CANCELLED: frozenset(),
    ResponseState.INCOMPLETE: frozenset(),
    ResponseState.FAILED: frozenset(),
    SpeechState.IDLE: frozenset({SpeechState.SPEAKING}),
    SpeechState.SPEAKING: frozenset({SpeechState.IDLE, SpeechState.ENDING}),
    SpeechState.ENDING: frozenset({SpeechState.IDLE, SpeechState.SPEAKING}),
}


def check_move(owner: str, old: enum.Enum, new: enum.Enum) -> None:
    """Raise ``VoxpipeStateError`` unless ``old -> new`` is an allowed move; log it at debug.

    Args:
        owner: names the object (``"session sess_…"``) for the log line and the error.
    """
    if new not in _MOVES[old]:
        raise VoxpipeStateError(f"{owner}: cannot move from {old.value} to {new.value}")
    logger.debug("%s: %s -> %s", owner, old.value, new.value)

"""The small types a processor is described by: directions, life states, and what a task hands it."""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.observers.feed import ObserverFeed

__all__ = ["ALLOWED_MOVES", "FrameDirection", "FrameProcessorSetup", "ProcessorState", "default_name"]


class FrameDirection(enum.IntEnum):
    """Which way a frame travels: towards the output (downstream) or towards the input (upstream)."""

    DOWNSTREAM = 1
    UPSTREAM = 2


class ProcessorState(enum.Enum):
    """Where a processor is in its life. Moves only forward; see ``FrameProcessor._set_state``."""

    CREATED = "created"
    STARTED = "started"
    ENDED = "ended"
    CANCELLED = "cancelled"
    CLOSED = "closed"


ALLOWED_MOVES: dict[ProcessorState, frozenset[ProcessorState]] = {
    ProcessorState.CREATED: frozenset(
        {ProcessorState.STARTED, ProcessorState.CANCELLED, ProcessorState.CLOSED}
    ),
    ProcessorState.STARTED: frozenset(
        {ProcessorState.ENDED, ProcessorState.CANCELLED, ProcessorState.CLOSED}
    ),
    ProcessorState.ENDED: frozenset({ProcessorState.CANCELLED, ProcessorState.CLOSED}),
    ProcessorState.CANCELLED: frozenset({ProcessorState.CLOSED}),
    ProcessorState.CLOSED: frozenset(),
}


class FrameProcessorSetup:
    """What a task hands every processor before the run: where observers listen.

    Attributes:
        observer_feeds: the queues of the task's observers; every push is put on each.
    """

    __slots__ = ("observer_feeds",)

    def __init__(self, observer_feeds: Iterable[ObserverFeed] = ()) -> None:
        self.observer_feeds = tuple(observer_feeds)


_COUNTERS: dict[str, Iterable[int]] = {}


def default_name(cls: type) -> str:
    counter = _COUNTERS.setdefault(cls.__name__, itertools.count(0))
    return f"{cls.__name__}#{next(counter)}"  # type: ignore[call-overload]

"""Observers see every frame pushed between two processors, from their own queue.

An observer's ``on_push_frame`` runs on a task of its own, fed by a queue, so a slow observer never slows
the pipeline down; it only falls behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from voxpipe.frames.base import Frame

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor

__all__ = ["BaseObserver", "FramePushed"]


@dataclass(slots=True, frozen=True)
class FramePushed:
    """One push of a frame from a processor to its neighbour.

    Attributes:
        source: the processor that pushed the frame.
        destination: the processor that receives it.
        frame: the frame.
        direction: downstream or upstream.
        timestamp: ``time.monotonic_ns()`` at the push.
    """

    source: FrameProcessor
    destination: FrameProcessor
    frame: Frame
    direction: FrameDirection
    timestamp: int


class BaseObserver:
    """Base class of observers. Override :meth:`on_push_frame`.

    Attributes:
        frame_types: when set, only pushes of these frame types (and subclasses) are delivered; an
            observer that cares about a few kinds of frame costs the pipeline almost nothing.
    """

    frame_types: tuple[type[Frame], ...] | None = None

    async def on_push_frame(self, data: FramePushed) -> None:
        """Called for every push, in push order, on the observer's own task."""

    async def on_pipeline_finished(self) -> None:
        """Called once, after the last push of a run has been observed."""

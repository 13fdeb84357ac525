"""Lifecycle and control frames: start, end, cancel, errors, and requests to the task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from voxpipe.frames.base import ControlFrame, SystemFrame, UninterruptibleFrame

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.processors.frame_processor import FrameProcessor

__all__ = [
    "CancelFrame",
    "CancelTaskFrame",
    "EndFrame",
    "EndTaskFrame",
    "ErrorFrame",
    "FatalErrorFrame",
    "HeartbeatFrame",
    "StartFrame",
    "StopTaskFrame",
]


@dataclass(slots=True, kw_only=True)
class StartFrame(SystemFrame):
    """The first frame of a run: carries audio rates and settings to every processor.

    Attributes:
        audio_in_sample_rate: rate of audio entering the pipeline (microphone, phone, file).
        audio_out_sample_rate: rate the output transport plays at.
        allow_interruptions: whether user speech may interrupt the bot.
        enable_metrics: whether processors emit TTFB and processing-time metrics.
        enable_usage_metrics: whether services emit token and character usage.
        report_only_initial_ttfb: emit only the first TTFB measurement of each processor.
    """

    audio_in_sample_rate: int = 16000
    audio_out_sample_rate: int = 24000
    allow_interruptions: bool = True
    enable_metrics: bool = False
    enable_usage_metrics: bool = False
    report_only_initial_ttfb: bool = False


@dataclass(slots=True, kw_only=True)
class EndFrame(ControlFrame, UninterruptibleFrame):
    """Ends the run after every frame queued before it has been processed."""


@dataclass(slots=True, kw_only=True)
class CancelFrame(SystemFrame):
    """Stops the run at once, dropping queued work."""


@dataclass(slots=True, kw_only=True)
class ErrorFrame(SystemFrame):
    """Reports an error upstream, towards the task.

    Attributes:
        error: a readable description of what went wrong.
        fatal: the run cannot go on; the task cancels the pipeline when it receives it.
        exception: the exception behind the error, if any.
        processor: the processor that reported it, if known.
    """

    error: str
    fatal: bool = False
    exception: BaseException | None = field(default=None, repr=False)
    processor: FrameProcessor | None = field(default=None, repr=False)

    def __str__(self) -> str:
        where = f" in {self.processor}" if self.processor is not None else ""
        return f"{self.name}(fatal={self.fatal}{where}: {self.error})"


@dataclass(slots=True, kw_only=True)
class FatalErrorFrame(ErrorFrame):
    """An :class:`ErrorFrame` that always ends the run."""

    fatal: bool = True


@dataclass(slots=True, kw_only=True)
class EndTaskFrame(SystemFrame):
    """Pushed upstream by a processor to ask the task to end gracefully (it sends an EndFrame)."""


@dataclass(slots=True, kw_only=True)
class StopTaskFrame(SystemFrame):
    """Pushed upstream to ask the task to stop; treated like :class:`EndTaskFrame`."""


@dataclass(slots=True, kw_only=True)
class CancelTaskFrame(SystemFrame):
    """Pushed upstream by a processor to ask the task to cancel the run."""


@dataclass(slots=True, kw_only=True)
class HeartbeatFrame(ControlFrame):
    """A timestamped frame that may be sent through the pipeline to check that it is alive."""

    timestamp: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

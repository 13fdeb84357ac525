"""``PipelineTask``: one run of a pipeline, from its StartFrame to its EndFrame or CancelFrame.

The task owns everything the run needs: it sets up the processors and the observers, sends the
StartFrame (carrying :class:`PipelineParams`), feeds the frames you queue, watches what reaches its two
ends (errors and end requests coming upstream, the End/Cancel frame arriving downstream), and cleans up
every processor when the run is over, whatever the reason.

Events (``@task.event_handler(name)``; handlers get the task first):

- ``on_pipeline_started(task, frame)``: every processor has the StartFrame.
- ``on_pipeline_ended(task, frame)`` / ``on_pipeline_cancelled(task, frame)``: how the run ended.
- ``on_pipeline_finished(task, frame)``: the run is over, either way.
- ``on_pipeline_error(task, frame)``: an :class:`ErrorFrame` reached the task.
- ``on_frame_reached_upstream(task, frame)`` / ``on_frame_reached_downstream(task, frame)``: any other
  frame left the pipeline at one end.
- ``on_idle_timeout(task)``: nothing happened for ``idle_timeout_secs``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from voxpipe.errors import VoxpipeStateError
from voxpipe.frames.base import Frame
from voxpipe.frames.control import (
    CancelFrame,
    CancelTaskFrame,
    EndFrame,
    EndTaskFrame,
    ErrorFrame,
    StartFrame,
    StopTaskFrame,
)
from voxpipe.frames.llm import LLMFullResponseEndFrame
from voxpipe.frames.speech import (
    BotSpeakingFrame,
    BotStartedSpeakingFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from voxpipe.observers.base_observer import BaseObserver
from voxpipe.observers.feed import ObserverFeed
from voxpipe.observers.turn_tracking_observer import TurnTrackingObserver
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor, FrameProcessorSetup
from voxpipe.utils.event_emitter import EventEmitter

__all__ = ["PipelineParams", "PipelineTask", "TaskState"]

logger = logging.getLogger(__name__)

DEFAULT_IDLE_FRAMES: tuple[type[Frame], ...] = (
    BotSpeakingFrame,
    BotStartedSpeakingFrame,
    LLMFullResponseEndFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
"""Frames that count as activity for the idle timeout, in either direction at the task's ends."""

CANCEL_TIMEOUT_S = 5.0


@dataclass(kw_only=True)
class PipelineParams:
    """Settings of a run, sent to every processor in the StartFrame.

    Attributes:
        allow_interruptions: user speech may interrupt the bot.
        audio_in_sample_rate: rate of the audio entering the pipeline.
        audio_out_sample_rate: rate the output plays at.
        enable_metrics: processors report TTFB and processing time.
        enable_usage_metrics: services report token and character usage.
        report_only_initial_ttfb: report only each processor's first TTFB.
        start_metadata: copied into the StartFrame's metadata.
    """

    allow_interruptions: bool = True
    audio_in_sample_rate: int = 16000
    audio_out_sample_rate: int = 24000
    enable_metrics: bool = False
    enable_usage_metrics: bool = False
    report_only_initial_ttfb: bool = False
    start_metadata: dict[str, Any] = field(default_factory=dict)


class TaskState(enum.Enum):
    """Where a task is in its run."""

    CREATED = "created"
    RUNNING = "running"
    FINISHED = "finished"


class _Control(enum.Enum):
    END = "end"
    CANCEL = "cancel"


class _TaskEdge(FrameProcessor):
    """An end of the task: frames leaving the pipeline there go to the task, at once."""

    def __init__(self, task: PipelineTask, *, name: str) -> None:
        super().__init__(name=name)
        self._task = task

    async def queue_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> None:
        await self._task._frame_left_pipeline(frame, direction)


class PipelineTask(EventEmitter):
    """Runs a pipeline once.

    Args:
        pipeline: the processor to run (usually a :class:`Pipeline`).
        params: settings for the StartFrame.
        observers: observers of every frame push; each gets its own queue and task.
        idle_timeout_secs: end the run when no activity frame (see ``idle_timeout_frames``) was seen for
            this long; None disables it.
        idle_timeout_frames: the frame types that count as activity.
        cancel_on_idle_timeout: cancel the run on an idle timeout (otherwise only the event fires).
        enable_turn_tracking: add a :class:`TurnTrackingObserver` (``task.turn_tracking_observer``).
        name: a readable name for logs.
    """

    def __init__(
        self,
        pipeline: FrameProcessor,
        *,
        params: PipelineParams | None = None,
        observers: Sequence[BaseObserver] = (),
        idle_timeout_secs: float | None = 300.0,
        idle_timeout_frames: tuple[type[Frame], ...] = DEFAULT_IDLE_FRAMES,
        cancel_on_idle_timeout: bool = True,
        enable_turn_tracking: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__()
        self._name = name or f"PipelineTask({pipeline.name})"
        self._pipeline = pipeline
        self.params = params or PipelineParams()
        self._observers: list[BaseObserver] = list(observers)
        self.turn_tracking_observer: TurnTrackingObserver | None = None
        if enable_turn_tracking:
            self.turn_tracking_observer = TurnTrackingObserver()
            self._observers.append(self.turn_tracking_observer)
        self._idle_timeout = idle_timeout_secs
        self._idle_frames = idle_timeout_frames
        self._cancel_on_idle = cancel_on_idle_timeout
        self._state = TaskState.CREATED
        self._source = _TaskEdge(self, name=f"{self._name}::Source")
        self._sink = _TaskEdge(self, name=f"{self._name}::Sink")
        self._source.link(pipeline)
        pipeline.link(self._sink)
        self._inbox: asyncio.Queue[Frame] = asyncio.Queue()
        self._control: asyncio.Queue[_Control] = asyncio.Queue()
        self._started = asyncio.Event()
        self._finished = asyncio.Event()
        self._final_frame: Frame | None = None
        self._last_activity = 0.0
        for event in (
            "on_pipeline_started",
            "on_pipeline_ended",
            "on_pipeline_cancelled",
            "on_pipeline_finished",
            "on_pipeline_error",
            "on_frame_reached_upstream",
            "on_frame_reached_downstream",
            "on_idle_timeout",
        ):
            self._register_event_handler(event)

    def __str__(self) -> str:
        return self._name

    @property
    def name(self) -> str:
        """The task's name."""
        return self._name

    @property
    def state(self) -> TaskState:
        """Where the task is in its run."""
        return self._state

    def has_finished(self) -> bool:
        """Whether the run is over."""
        return self._state is TaskState.FINISHED

    def add_observer(self, observer: BaseObserver) -> None:
        """Add an observer before the run starts."""
        if self._state is not TaskState.CREATED:
            raise VoxpipeStateError(
                f"{self}: observers must be added before run() (state {self._state.value})"
            )
        self._observers.append(observer)

    # -- feeding ----------------------------------------------------------------------------------------
    async def queue_frame(self, frame: Frame) -> None:
        """Queue a frame to enter the pipeline downstream, after the StartFrame and earlier queued frames."""
        self._inbox.put_nowait(frame)

    async def queue_frames(self, frames: Iterable[Frame]) -> None:
        """Queue several frames, in order."""
        for frame in frames:
            self._inbox.put_nowait(frame)

    async def stop_when_done(self) -> None:
        """End the run gracefully once every frame queued so far has been processed."""
        await self.queue_frame(EndFrame())

    async def cancel(self) -> None:
        """Cancel the run now: queued frames are dropped and a CancelFrame stops every processor.

        Returns once the run is over (at most about ``CANCEL_TIMEOUT_S`` later). Before ``run()``, it makes
        the coming run end at once.
        """
        if self._state is TaskState.FINISHED:
            return
        self._control.put_nowait(_Control.CANCEL)
        if self._state is TaskState.RUNNING:
            await self._finished.wait()

    # -- running ----------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Run the pipeline until it ends, is cancelled or fails fatally; clean everything up either way.

        Raises:
            VoxpipeStateError: the task already ran.
            Exception: whatever made one of the task's own helper tasks fail (feeding frames, handling
                control requests, watching for idleness); the processors are cleaned up first.
        """
        if self._state is not TaskState.CREATED:
            raise VoxpipeStateError(f"{self}: a PipelineTask runs once (state {self._state.value})")
        self._state = TaskState.RUNNING
        loop = asyncio.get_running_loop()
        self._last_activity = loop.time()
        feeds = [ObserverFeed(observer) for observer in self._observers]
        for feed in feeds:
            feed.start()
        setup = FrameProcessorSetup(feeds)
        try:
            for processor in (self._source, self._pipeline, self._sink):
                await processor.setup(setup)
            await self._run_helpers()
        finally:
            await self._cleanup(feeds)

    async def _run_helpers(self) -> None:
        """Run the feed, control and idle helpers until the run is over; a helper's failure ends it.

        The helpers live in a task group: when one raises, the others are cancelled and the error (the
        helper's own exception, not a group of one) leaves :meth:`run`.
        """
        try:
            async with asyncio.TaskGroup() as group:
                helpers = [
                    group.create_task(self._feed_pipeline(), name=f"{self}.feed"),
                    group.create_task(self._handle_control(), name=f"{self}.control"),
                ]
                if self._idle_timeout is not None:
                    helpers.append(
                        group.create_task(self._watch_idle(self._idle_timeout), name=f"{self}.idle")
                    )
                await self._finished.wait()
                for helper in helpers:
                    helper.cancel()
        except BaseExceptionGroup as failures:
            logger.error("%s: a helper task failed; the run ends", self)
            if len(failures.exceptions) == 1:
                raise failures.exceptions[0] from None
            raise

    async def _cleanup(self, feeds: list[ObserverFeed]) -> None:
        for processor in (self._source, self._pipeline, self._sink):
            try:
                await processor.cleanup()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s: cleanup of %s failed", self, processor)
        for feed in feeds:
            await feed.close()
        self._state = TaskState.FINISHED
        self._finished.set()
        final = self._final_frame
        if isinstance(final, EndFrame):
            await self._call_event_handler("on_pipeline_ended", final)
        elif final is not None:
            await self._call_event_handler("on_pipeline_cancelled", final)
        await self._call_event_handler("on_pipeline_finished", final)
        await self._close_event_handlers()

    async def _feed_pipeline(self) -> None:
        """Send the StartFrame, then every queued frame, in order."""
        params = self.params
        start = StartFrame(
            allow_interruptions=params.allow_interruptions,
            audio_in_sample_rate=params.audio_in_sample_rate,
            audio_out_sample_rate=params.audio_out_sample_rate,
            enable_metrics=params.enable_metrics,
            enable_usage_metrics=params.enable_usage_metrics,
            report_only_initial_ttfb=params.report_only_initial_ttfb,
            metadata=dict(params.start_metadata),
        )
        await self._source.push_frame(start)
        while True:
            frame = await self._inbox.get()
            await self._source.push_frame(frame)

    async def _handle_control(self) -> None:
        while True:
            action = await self._control.get()
            if action is _Control.END:
                await self.queue_frame(EndFrame())
            elif action is _Control.CANCEL:
                await self._cancel_pipeline()
                return

    async def _cancel_pipeline(self) -> None:
        if self._finished.is_set():
            return
        cancel = CancelFrame()
        await self._source.push_frame(cancel)
        if not self._finished.is_set():
            logger.warning("%s: the CancelFrame did not reach the end of the pipeline; stopping anyway", self)
            self._final_frame = cancel
            self._finished.set()

    async def _watch_idle(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            remaining = self._last_activity + timeout - loop.time()
            if remaining > 0:
                await asyncio.sleep(remaining)
                continue
            logger.info("%s: idle for %.1f s", self, timeout)
            await self._call_event_handler("on_idle_timeout")
            if self._cancel_on_idle:
                self._control.put_nowait(_Control.CANCEL)
            return

    async def _frame_left_pipeline(self, frame: Frame, direction: FrameDirection) -> None:
        """Called at once when a frame reaches one of the task's ends."""
        if isinstance(frame, self._idle_frames):
            self._last_activity = asyncio.get_running_loop().time()
        if direction is FrameDirection.DOWNSTREAM:
            await self._reached_downstream(frame)
        else:
            await self._reached_upstream(frame)

    async def _reached_downstream(self, frame: Frame) -> None:
        if isinstance(frame, StartFrame):
            self._started.set()
            await self._call_event_handler("on_pipeline_started", frame)
        elif isinstance(frame, EndFrame | CancelFrame):
            if self._final_frame is None:
                self._final_frame = frame
            self._finished.set()
        elif self.has_event_handlers("on_frame_reached_downstream"):
            await self._call_event_handler("on_frame_reached_downstream", frame)

    async def _reached_upstream(self, frame: Frame) -> None:
        if isinstance(frame, ErrorFrame):
            log = logger.error if frame.fatal else logger.warning
            log("%s: %s", self, frame)
            await self._call_event_handler("on_pipeline_error", frame)
            if frame.fatal:
                self._control.put_nowait(_Control.CANCEL)
        elif isinstance(frame, EndTaskFrame | StopTaskFrame):
            self._control.put_nowait(_Control.END)
        elif isinstance(frame, CancelTaskFrame):
            self._control.put_nowait(_Control.CANCEL)
        elif self.has_event_handlers("on_frame_reached_upstream"):
            await self._call_event_handler("on_frame_reached_upstream", frame)

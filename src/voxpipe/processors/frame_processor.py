"""``FrameProcessor``: the unit of work of a pipeline.

How frames move:

- A processor receives frames through :meth:`FrameProcessor.queue_frame` from its neighbours.
- **System frames** (audio input, interruptions, cancellation, errors, metrics) are handled at once, in the
  caller's task: they never wait behind ordered work.
- **Ordered frames** (data and control frames) go into the processor's lane, a FIFO drained by one task
  per processor, so each processor handles them in order while the others work concurrently.
- An interruption (:class:`StartInterruptionFrame`) cancels the ordered frame being processed and drops
  the queued ones, except :class:`UninterruptibleFrame`\\ s, which are kept (and never cancelled midway).
- **Bounded lanes.** A lane holds at most ``max_lane_frames`` frames pushed from upstream by a producer
  task: a lane task (or a task that called :func:`accept_backpressure`) pushing an ordered frame
  downstream into a full lane waits until the neighbour takes one. So a slow consumer (an output playing
  in real time) holds back, hop by hop, whoever makes frames faster than that, and no lane in between
  grows without bound. Other tasks never wait (a socket reader, a player, the task's feed): they would
  stop hearing events, or deadlock the consumer they wait on. Upstream pushes never wait.
- Exceptions raised while processing become :class:`ErrorFrame`\\ s pushed upstream; the task decides
  what to do with them. They never crash the pipeline.

Subclasses override :meth:`process_frame` and push what they produce with :meth:`push_frame`, or declare
per-type handlers with :func:`frame_handler`. Lifecycle hooks (:meth:`start`, :meth:`stop`,
:meth:`cancel`) are called by the framework before :meth:`process_frame` sees the frame.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import deque
from collections.abc import Coroutine
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from voxpipe.errors import VoxpipeStateError, VoxpipeUsageError
from voxpipe.frames.base import Frame, SystemFrame, UninterruptibleFrame
from voxpipe.frames.control import CancelFrame, EndFrame, ErrorFrame, StartFrame
from voxpipe.frames.speech import StartInterruptionFrame
from voxpipe.metrics.processor_metrics import FrameProcessorMetrics
from voxpipe.observers.base_observer import FramePushed
from voxpipe.processors._metrics import ProcessorMetricsMixin
from voxpipe.processors._settings import StartSettingsMixin
from voxpipe.processors._tasks import CLEANUP_TIMEOUT_S, cancel_and_wait
from voxpipe.processors.dispatch import HandlerTable, frame_handler
from voxpipe.processors.types import (
    ALLOWED_MOVES,
    FrameDirection,
    FrameProcessorSetup,
    ProcessorState,
    default_name,
)
from voxpipe.utils.event_emitter import EventEmitter

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.observers.feed import ObserverFeed

__all__ = [
    "DEFAULT_MAX_LANE_FRAMES",
    "FrameDirection",
    "FrameProcessor",
    "FrameProcessorSetup",
    "ProcessorState",
    "accept_backpressure",
    "frame_handler",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_DOWNSTREAM = FrameDirection.DOWNSTREAM
"""A module constant: reading an enum member through its class costs ten times more, on every push."""
_RUNNING = (ProcessorState.STARTED, ProcessorState.ENDED)

DEFAULT_MAX_LANE_FRAMES = 32
"""Most frames a lane holds before a producer pushing into it waits (see the module docstring)."""

_WAITS_FOR_ROOM: ContextVar[bool] = ContextVar("voxpipe_waits_for_lane_room", default=False)
"""Whether the current task's downstream pushes wait while the neighbour's lane is full."""


def accept_backpressure(accept: bool = True) -> None:
    """Let the current task's downstream pushes wait while the neighbour's lane is full (or stop them).

    Call it at the start of a task that makes frames from its own queue (a producer), so it keeps pace
    with the consumer. Lane tasks accept it already. A task that must never wait (it reads a socket, or
    it plays the audio the lanes wait for) passes False, in case it inherited True from its creator.
    """
    _WAITS_FOR_ROOM.set(accept)


class FrameProcessor(EventEmitter, StartSettingsMixin, ProcessorMetricsMixin):
    """A stage of a pipeline.

    Args:
        name: a readable name for logs; defaults to ``ClassName#n``.
        max_lane_frames: most ordered frames the lane holds before a producer pushing downstream into it
            waits (None: unbounded). See the module docstring.
    """

    _frame_handlers: ClassVar[HandlerTable]
    _has_frame_handlers: ClassVar[bool] = False
    _plain_queue: ClassVar[bool] = True  # queue_frame not overridden: ordered frames may be appended directly

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._frame_handlers = HandlerTable.collect(cls)
        cls._has_frame_handlers = bool(cls._frame_handlers)
        cls._plain_queue = cls.queue_frame is FrameProcessor.queue_frame

    def __init__(
        self, *, name: str | None = None, max_lane_frames: int | None = DEFAULT_MAX_LANE_FRAMES, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if max_lane_frames is not None and max_lane_frames < 1:
            raise VoxpipeUsageError(f"max_lane_frames must be 1 or more, got {max_lane_frames}")
        self._name = name or default_name(type(self))
        self._prev: FrameProcessor | None = None
        self._next: FrameProcessor | None = None
        self._processor_state = ProcessorState.CREATED
        self._observer_feeds: tuple[ObserverFeed, ...] = ()
        # The ordered lane: a FIFO of (frame, direction), drained by one task.
        self._lane: deque[tuple[Frame, FrameDirection]] = deque()
        self._lane_waiter: asyncio.Future[None] | None = None
        self._lane_task: asyncio.Task[None] | None = None
        self._lane_frame: Frame | None = None
        self._lane_limit = sys.maxsize if max_lane_frames is None else max_lane_frames
        self._lane_room: asyncio.Event | None = None  # made when a producer first waits for room
        self._owned_tasks: set[asyncio.Task[Any]] = set()
        self._metrics = FrameProcessorMetrics(self)

    # -- identity and state ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The processor's name, used in logs and metrics."""
        return self._name

    def __str__(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name} {self._processor_state.value}>"

    @property
    def state(self) -> ProcessorState:
        """Where the processor is in its life."""
        return self._processor_state

    def _set_state(self, new: ProcessorState) -> None:
        old = self._processor_state
        if new is old:
            return
        if new not in ALLOWED_MOVES[old]:
            raise VoxpipeStateError(f"{self}: cannot move from {old.value} to {new.value}")
        self._processor_state = new
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: %s -> %s", self, old.value, new.value)

    # -- wiring ---------------------------------------------------------------------------------------
    def link(self, processor: FrameProcessor) -> None:
        """Make ``processor`` the next one downstream of this one."""
        self._next = processor
        processor._prev = self

    @property
    def next(self) -> FrameProcessor | None:
        """The downstream neighbour."""
        return self._next

    @property
    def previous(self) -> FrameProcessor | None:
        """The upstream neighbour."""
        return self._prev

    def processors(self) -> list[FrameProcessor]:
        """The processors inside this one (none for a plain processor; the children of a pipeline)."""
        return []

    async def setup(self, setup: FrameProcessorSetup) -> None:
        """Called by the task before the run; subclasses that override it call ``super().setup``."""
        self._observer_feeds = setup.observer_feeds

    async def cleanup(self) -> None:
        """Called by the task after the run: stops the lane and every task this processor created.

        Safe to call twice. Subclasses that hold resources override it and call ``super().cleanup()``.
        """
        if self._processor_state is ProcessorState.CLOSED:
            return
        tasks = set(self._owned_tasks)
        if self._lane_task is not None:
            tasks.add(self._lane_task)
            self._lane_task = None
        await cancel_and_wait(tasks, owner=self)
        self._owned_tasks.clear()
        await self._close_event_handlers()
        self._set_state(ProcessorState.CLOSED)
        self._wake_producers()

    # -- lifecycle hooks ------------------------------------------------------------------------------
    async def start(self, frame: StartFrame) -> None:
        """Called when the StartFrame arrives, before :meth:`process_frame` sees it."""

    async def stop(self, frame: EndFrame) -> None:
        """Called when the EndFrame arrives (after every frame before it), before it is processed."""

    async def cancel(self, frame: CancelFrame) -> None:
        """Called when the CancelFrame arrives, after queued work was dropped."""

    # -- receiving ------------------------------------------------------------------------------------
    async def queue_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> None:
        """Give this processor a frame: system frames are handled now, others join the ordered lane."""
        if not isinstance(frame, SystemFrame):
            self._lane_put(frame, direction)
            return
        try:
            hook = _LIFECYCLE.lookup(type(frame))
            if hook is not None:
                await hook(self, frame, direction)
            await self.process_frame(frame, direction)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._report_exception(exc, frame)

    @property
    def max_lane_frames(self) -> int | None:
        """Most frames the lane holds before a producer pushing into it waits (None: unbounded)."""
        return None if self._lane_limit == sys.maxsize else self._lane_limit

    async def wait_for_lane_room(self) -> None:
        """Wait while the lane is full and the processor runs (what a producer's push does first)."""
        while len(self._lane) >= self._lane_limit and self._processor_state in _RUNNING:
            room = self._lane_room
            if room is None:
                room = self._lane_room = asyncio.Event()
            room.clear()
            await room.wait()

    def _wake_producers(self) -> None:
        if self._lane_room is not None:
            self._lane_room.set()

    def _lane_put(self, frame: Frame, direction: FrameDirection) -> None:
        """Add an ordered frame to the lane and wake the lane task if it waits."""
        self._lane.append((frame, direction))
        waiter = self._lane_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _drain_lane(self) -> None:
        """The lane task: process ordered frames one at a time, in arrival order."""
        lane = self._lane
        loop = asyncio.get_running_loop()
        _WAITS_FOR_ROOM.set(True)
        while True:
            while not lane:
                waiter = self._lane_waiter = loop.create_future()
                try:
                    await waiter
                finally:
                    self._lane_waiter = None
            frame, direction = lane.popleft()
            room = self._lane_room
            if room is not None and len(lane) < self._lane_limit:
                room.set()
            self._lane_frame = frame
            try:
                if isinstance(frame, EndFrame):
                    await self._on_end(frame)
                await self.process_frame(frame, direction)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._report_exception(exc, frame)
            finally:
                self._lane_frame = None

    def _start_lane(self) -> None:
        if self._lane_task is None or self._lane_task.done():
            self._lane_task = asyncio.get_running_loop().create_task(self._drain_lane(), name=f"{self}.lane")

    async def _on_start(self, frame: StartFrame, direction: FrameDirection) -> None:
        if self._processor_state is not ProcessorState.CREATED:
            logger.warning("%s: ignored a second StartFrame (state %s)", self, self._processor_state.value)
            return
        self._apply_start_settings(frame)
        self._set_state(ProcessorState.STARTED)
        self._start_lane()
        try:
            await self.start(frame)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a processor that cannot start cannot work: end the run, cleanly
            logger.error("%s: failed to start", self, exc_info=exc)
            await self.push_error(
                f"{self} failed to start: {type(exc).__name__}: {exc}", exception=exc, fatal=True
            )

    async def _on_end(self, frame: EndFrame) -> None:
        if self._processor_state is ProcessorState.STARTED:
            self._set_state(ProcessorState.ENDED)
        await self.stop(frame)

    async def _on_cancel(self, frame: CancelFrame, direction: FrameDirection) -> None:
        if self._processor_state in (ProcessorState.CANCELLED, ProcessorState.CLOSED):
            return
        self._set_state(ProcessorState.CANCELLED)
        self._lane.clear()
        self._wake_producers()
        task = self._lane_task
        if task is not None and task is not asyncio.current_task():
            self._lane_task = None
            await cancel_and_wait({task}, owner=self)
        await self.cancel(frame)

    async def _on_interruption(self, frame: StartInterruptionFrame, direction: FrameDirection) -> None:
        await self._interrupt_lane()

    async def _interrupt_lane(self) -> None:
        """Drop queued interruptible frames; cancel the one in progress unless it is uninterruptible."""
        lane = self._lane
        if lane:
            kept = [item for item in lane if isinstance(item[0], UninterruptibleFrame)]
            lane.clear()
            lane.extend(kept)
            self._wake_producers()
        task = self._lane_task
        current = self._lane_frame
        if (
            task is None
            or current is None
            or isinstance(current, UninterruptibleFrame)
            or task is asyncio.current_task()
        ):
            return
        self._lane_task = None
        await cancel_and_wait({task}, owner=self)
        if self._processor_state is ProcessorState.STARTED or self._processor_state is ProcessorState.ENDED:
            self._start_lane()

    # -- processing -----------------------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Handle one frame. Override it, or declare handlers with :func:`frame_handler`.

        The default runs the handler declared for the frame's type (walking its MRO). A processor that
        declares handlers passes every frame it has no handler for on, unchanged; one that declares none
        does nothing here, so ``await super().process_frame(frame, direction)`` is always safe.
        """
        if not self._has_frame_handlers:
            return
        handler = self._frame_handlers.lookup(type(frame))
        if handler is not None:
            await handler(self, frame, direction)
        else:
            await self.push_frame(frame, direction)

    async def push_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> None:
        """Send a frame to the neighbour in ``direction`` (dropped, with a debug log, at an open end)."""
        target = self._next if direction is _DOWNSTREAM else self._prev
        if target is None:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s: no processor %s; dropped %s", self, direction.name.lower(), frame.name)
            return
        feeds = self._observer_feeds
        if feeds:
            pushed = None
            for feed in feeds:
                wanted = feed.frame_types
                if wanted is None or isinstance(frame, wanted):
                    if pushed is None:
                        pushed = FramePushed(self, target, frame, direction, time.monotonic_ns())
                    feed.put(pushed)
        if not isinstance(frame, SystemFrame):
            if direction is _DOWNSTREAM and len(target._lane) >= target._lane_limit and _WAITS_FOR_ROOM.get():
                await target.wait_for_lane_room()
            if target._plain_queue:
                target._lane_put(frame, direction)  # what queue_frame does, without a coroutine per hop
                return
        await target.queue_frame(frame, direction)

    async def push_error(
        self, error: str, *, exception: BaseException | None = None, fatal: bool = False
    ) -> None:
        """Report an error upstream, towards the task (which ends the run if it is fatal)."""
        await self.push_frame(
            ErrorFrame(error=error, fatal=fatal, exception=exception, processor=self), FrameDirection.UPSTREAM
        )

    async def _report_exception(self, exc: Exception, frame: Frame) -> None:
        logger.error("%s: error while processing %s", self, frame.name, exc_info=exc)
        try:
            await self.push_error(f"{type(exc).__name__}: {exc}", exception=exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("%s: could not report an error upstream", self)

    # -- tasks ----------------------------------------------------------------------------------------
    def create_task(self, coro: Coroutine[Any, Any, _T], name: str | None = None) -> asyncio.Task[_T]:
        """Start a background task owned by this processor.

        The processor cancels and awaits it at cleanup; an exception it raises is reported upstream as an
        :class:`ErrorFrame`, so the owner hears of every failure.
        """
        task_name = f"{self}.{name or getattr(coro, '__name__', 'task')}"
        task = asyncio.get_running_loop().create_task(self._guard(coro), name=task_name)
        self._owned_tasks.add(task)
        task.add_done_callback(self._owned_tasks.discard)
        return task

    async def _guard(self, coro: Coroutine[Any, Any, _T]) -> _T:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._report_exception(exc, ErrorFrame(error="background task"))
            raise

    async def cancel_task(self, task: asyncio.Task[Any], timeout: float = CLEANUP_TIMEOUT_S) -> None:
        """Cancel a task created with :meth:`create_task` and wait (up to ``timeout``) for it to end."""
        await cancel_and_wait({task}, owner=self, timeout=timeout)


_LIFECYCLE = HandlerTable(
    {
        StartFrame: FrameProcessor._on_start,
        CancelFrame: FrameProcessor._on_cancel,
        StartInterruptionFrame: FrameProcessor._on_interruption,
    }
)

FrameProcessor._frame_handlers = HandlerTable()

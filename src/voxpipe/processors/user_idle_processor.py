"""``UserIdleProcessor``: do something when the user has said nothing for a while.

Once the conversation has begun (the user or the bot spoke), every ``timeout`` seconds of silence from
both sides calls ``callback``. The bot speaking counts as activity, so the clock runs from the end of the
bot's answer; while the user speaks the clock is stopped. The callback takes the processor and, if it
accepts a second argument, the number of idle periods in a row (1, 2, ...); returning ``False`` stops the
monitoring (say goodbye and end the call after the third nudge)::

    async def nudge(processor: UserIdleProcessor, retry_count: int) -> bool:
        if retry_count < 3:
            await processor.push_frame(LLMMessagesAppendFrame([...], run_llm=True))
            return True
        await processor.push_frame(EndTaskFrame(), FrameDirection.UPSTREAM)
        return False

    idle = UserIdleProcessor(callback=nudge, timeout=8.0)
    pipeline = Pipeline([transport.input(), idle, llm, transport.output()])
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from voxpipe.errors import VoxpipeUsageError
from voxpipe.frames.base import Frame
from voxpipe.frames.control import CancelFrame, EndFrame
from voxpipe.frames.speech import BotSpeakingFrame, UserStartedSpeakingFrame, UserStoppedSpeakingFrame
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor, frame_handler

__all__ = ["IdleState", "UserIdleProcessor"]

logger = logging.getLogger(__name__)

IdleCallback = Callable[..., Awaitable[Any]]


class IdleState(enum.Enum):
    """What the idle monitor is doing."""

    WAITING = "waiting"  # the conversation has not begun
    WATCHING = "watching"  # the clock runs
    USER_SPEAKING = "user_speaking"  # the clock is stopped
    STOPPED = "stopped"  # the callback returned False, or the run ended


class UserIdleProcessor(FrameProcessor):
    """Calls ``callback`` after ``timeout`` seconds with neither the user nor the bot speaking.

    Args:
        callback: ``async def callback(processor)`` or ``async def callback(processor, retry_count) ->
            bool`` (``False`` stops monitoring).
        timeout: seconds of silence before the callback runs.

    Raises:
        VoxpipeUsageError: ``timeout`` is not positive or ``callback`` is not a coroutine function.
    """

    def __init__(self, *, callback: IdleCallback, timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not timeout > 0:
            raise VoxpipeUsageError(f"timeout must be positive seconds, got {timeout!r}")
        if not inspect.iscoroutinefunction(callback):
            raise VoxpipeUsageError("callback must be an async function: async def callback(processor, ...)")
        self._callback = callback
        self._with_retries = len(inspect.signature(callback).parameters) >= 2
        self._timeout = timeout
        self._idle_state = IdleState.WAITING
        self._activity = asyncio.Event()
        self._monitor: asyncio.Task[None] | None = None
        self.retry_count = 0

    @property
    def idle_state(self) -> IdleState:
        """What the monitor is doing now."""
        return self._idle_state

    def _set_idle_state(self, new: IdleState) -> None:
        if self._idle_state is IdleState.STOPPED or new is self._idle_state:
            return
        logger.debug("%s: %s -> %s", self, self._idle_state.value, new.value)
        self._idle_state = new
        self._activity.set()

    def _begin(self) -> None:
        if self._monitor is None and self._idle_state is not IdleState.STOPPED:
            self._monitor = self.create_task(self._watch(), name="idle-monitor")

    @frame_handler(UserStartedSpeakingFrame)
    async def _on_user_started(self, frame: UserStartedSpeakingFrame, direction: FrameDirection) -> None:
        self.retry_count = 0
        self._set_idle_state(IdleState.USER_SPEAKING)
        self._begin()
        await self.push_frame(frame, direction)

    @frame_handler(UserStoppedSpeakingFrame, BotSpeakingFrame)
    async def _on_activity(self, frame: Frame, direction: FrameDirection) -> None:
        if self._idle_state is IdleState.WAITING or (
            self._idle_state is IdleState.USER_SPEAKING and isinstance(frame, UserStoppedSpeakingFrame)
        ):
            self._idle_state = IdleState.WATCHING
        self._activity.set()
        self._begin()
        await self.push_frame(frame, direction)

    async def stop(self, frame: EndFrame) -> None:
        """The run ends: stop monitoring."""
        await self._stop_monitor()

    async def cancel(self, frame: CancelFrame) -> None:
        """The run is cancelled: stop monitoring."""
        await self._stop_monitor()

    async def _stop_monitor(self) -> None:
        self._set_idle_state(IdleState.STOPPED)
        self._idle_state = IdleState.STOPPED
        if self._monitor is not None and self._monitor is not asyncio.current_task():
            await self.cancel_task(self._monitor)
        self._monitor = None

    async def _watch(self) -> None:
        """The monitor: each quiet ``timeout`` runs the callback; any activity restarts the clock."""
        while self._idle_state is not IdleState.STOPPED:
            self._activity.clear()
            if self._idle_state is IdleState.USER_SPEAKING:
                await self._activity.wait()
                continue
            try:
                async with asyncio.timeout(self._timeout):
                    await self._activity.wait()
                continue
            except TimeoutError:
                pass
            self.retry_count += 1
            logger.info("%s: user idle for %.1f s (time %d)", self, self._timeout, self.retry_count)
            if self._with_retries:
                keep_going = await self._callback(self, self.retry_count)
            else:
                await self._callback(self)
                keep_going = True
            if keep_going is False:
                self._idle_state = IdleState.STOPPED

"""The queue and task that feed one observer, so it never slows the pipeline."""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from voxpipe.observers.base_observer import BaseObserver, FramePushed

__all__ = ["ObserverFeed"]

logger = logging.getLogger(__name__)

BACKLOG_WARNING = 10_000
"""Warn (once) when an observer is this many pushes behind: it is too slow for the pipeline."""


class ObserverFeed:
    """Queues pushes for one observer and delivers them, in order, on the feed's own task."""

    __slots__ = ("_closing", "_queue", "_task", "_waiter", "_warned", "frame_types", "observer")

    def __init__(self, observer: BaseObserver) -> None:
        self.observer = observer
        self.frame_types = observer.frame_types
        self._queue: deque[FramePushed] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._warned = False

    def put(self, pushed: FramePushed) -> None:
        """Queue one push (the pusher has checked ``frame_types``; this is on the hot path)."""
        queue = self._queue
        queue.append(pushed)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if len(queue) >= BACKLOG_WARNING and not self._warned:
            self._warned = True
            logger.warning("observer %r is %d frames behind the pipeline", self.observer, len(queue))

    def start(self) -> None:
        """Start delivering (on the running loop)."""
        self._task = asyncio.get_running_loop().create_task(
            self._deliver(), name=f"observer:{self.observer!r}"
        )

    async def _deliver(self) -> None:
        queue = self._queue
        loop = asyncio.get_running_loop()
        observer = self.observer
        while True:
            while queue:
                pushed = queue.popleft()
                try:
                    await observer.on_push_frame(pushed)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("observer %r failed on %s", observer, pushed.frame.name)
            if self._closing:
                return
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (up to ``timeout`` seconds), tell the observer the run ended, and stop."""
        task = self._task
        if task is None:
            return
        self._task = None
        self._closing = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            logger.warning(
                "observer %r still busy %.1f s after the run ended; cancelled", self.observer, timeout
            )
            task.cancel()
            await asyncio.wait({task})
        try:
            await self.observer.on_pipeline_finished()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("observer %r failed in on_pipeline_finished", self.observer)

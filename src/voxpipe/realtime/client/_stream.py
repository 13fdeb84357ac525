"""The client's stream of incoming events: filled by the reader, read by the owner, ended once."""

from __future__ import annotations

import asyncio
from typing import Any

from voxpipe.errors import OperationTimeoutError, VoxpipeStateError

__all__ = ["EventStream"]


class _End:
    """Marks the end of the stream; carries the error that ended the session, if any."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class EventStream:
    """A queue of events that ends once, with or without an error.

    Unbounded by default: a reader that waits on a slow consumer stops reading the socket, and the
    keepalive's pongs wait behind the unread data. An owner that consumes at the pace of playback (the
    realtime service, once its own queue is full) bounds it with ``max_items``, so that the server's
    audio waits in the socket (TCP back-pressure) rather than in memory; :meth:`wait_for_room` is how
    the reader waits.

    Args:
        name: the owner's name, for error messages.
        max_items: most events waiting (None: unbounded).
    """

    def __init__(self, name: str, max_items: int | None = None) -> None:
        self._name = name
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._end: _End | None = None
        self._ended = False
        self._max_items = max_items
        self._room = asyncio.Event()

    def __len__(self) -> int:
        return self._queue.qsize()

    async def wait_for_room(self) -> None:
        """Wait while the stream holds ``max_items`` events (returns at once when unbounded or ended)."""
        limit = self._max_items
        while limit is not None and not self._ended and self._queue.qsize() >= limit:
            self._room.clear()
            await self._room.wait()

    def put(self, item: Any) -> None:
        """Append an event (ignored once the stream has ended)."""
        if not self._ended:
            self._queue.put_nowait(item)

    def end(self, error: BaseException | None) -> None:
        """End the stream after the events already in it; ``error`` is raised to the reader."""
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(_End(error))
            self._room.set()

    async def _next(self) -> Any:
        if self._end is not None:
            return self._end
        item = await self._queue.get()
        if self._max_items is not None and self._queue.qsize() < self._max_items:
            self._room.set()
        if isinstance(item, _End):
            self._end = item
        return item

    async def next_or_stop(self) -> Any:
        """Return the next event; raise ``StopAsyncIteration`` at a clean end, the error otherwise."""
        item = await self._next()
        if isinstance(item, _End):
            if item.error is not None:
                raise item.error
            raise StopAsyncIteration
        return item

    async def recv(self, timeout: float | None) -> Any:
        """Return the next event. Cancelling is safe: no event is lost.

        Raises:
            OperationTimeoutError: nothing arrived within ``timeout`` seconds.
            VoxpipeStateError: the stream ended cleanly and every event was read.
            BaseException: the error that ended the session.
        """
        try:
            async with asyncio.timeout(timeout):
                item = await self._next()
        except TimeoutError:
            raise OperationTimeoutError(f"{self._name}: no server event within {timeout} s") from None
        if isinstance(item, _End):
            if item.error is not None:
                raise item.error
            raise VoxpipeStateError(f"{self._name} is closed; no more events")
        return item

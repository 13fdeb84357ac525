"""Run a blocking producer in a worker thread and consume it as an async iterator, cancellably.

The engines' models are blocking C libraries. Each engine owns one single-worker executor (so sessions
queue for the model instead of thrashing two cores) and streams results through this helper:

* the producer gets a ``threading.Event`` and must check it between items (per token, per sentence);
* items cross to the event loop with ``call_soon_threadsafe`` onto an unbounded ``asyncio.Queue``;
* closing or cancelling the consumer sets the event and returns at once, without waiting for the thread.
  A model call cannot be interrupted mid-step (a prompt evaluation may take a second), so waiting would
  make cancellation as slow as that step. The thread stops at its next check, and the executor that
  ran it, owned by the engine, is shut down and awaited in the engine's ``aclose``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import Executor
from typing import TypeVar, cast

__all__ = ["poster", "stream_from_thread"]

T = TypeVar("T")

_END = object()


def poster(
    queue: asyncio.Queue[tuple[object, BaseException | None]], stop: threading.Event
) -> Callable[..., None]:
    """For a thread: ``post(item, error=None)`` puts onto ``queue`` in the running event loop's thread;
    once the loop has closed (nobody listens any more) it sets ``stop`` instead."""
    loop = asyncio.get_running_loop()

    def post(item: object, error: BaseException | None = None) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (item, error))
        except RuntimeError:
            stop.set()

    return post


async def stream_from_thread(
    executor: Executor, produce: Callable[[threading.Event], Iterator[T]]
) -> AsyncGenerator[T, None]:
    """Yield what ``produce(stop)`` yields in ``executor``; its exception is raised here.

    Closing this generator (or cancelling its consumer) sets ``stop`` and returns immediately.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[object, BaseException | None]] = asyncio.Queue()
    stop = threading.Event()

    def post(item: object, error: BaseException | None = None) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (item, error))
        except RuntimeError:  # the loop closed under us: nobody is listening any more
            stop.set()

    def worker() -> None:
        try:
            if stop.is_set():
                return
            for item in produce(stop):
                if stop.is_set():
                    break
                post(item)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            post(_END, exc)
        else:
            post(_END)

    executor.submit(worker)
    try:
        while True:
            item, error = await queue.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield cast(T, item)
    finally:
        stop.set()

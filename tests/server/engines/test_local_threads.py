"""The worker-thread to async-iterator bridge the local engines stream through (no model needed)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from voxpipe.server.engines.local._threads import stream_from_thread


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=1)
    yield pool
    pool.shutdown(wait=True)


async def test_items_arrive_in_order(executor: ThreadPoolExecutor) -> None:
    def produce(stop: threading.Event) -> Iterator[int]:
        yield from range(5)

    assert [i async for i in stream_from_thread(executor, produce)] == [0, 1, 2, 3, 4]


async def test_producer_error_reaches_the_consumer(executor: ThreadPoolExecutor) -> None:
    def produce(stop: threading.Event) -> Iterator[int]:
        yield 1
        raise RuntimeError("model broke")

    seen = []
    with pytest.raises(RuntimeError, match="model broke"):
        async for item in stream_from_thread(executor, produce):
            seen.append(item)
    assert seen == [1]


async def test_closing_returns_at_once_and_stops_the_producer(executor: ThreadPoolExecutor) -> None:
    def produce(stop: threading.Event) -> Iterator[int]:
        n = 0
        while True:  # endless unless the stop flag is honoured
            time.sleep(0.3)  # a slow model step that cannot be interrupted
            yield n
            n += 1

    stream = stream_from_thread(executor, produce)
    async with contextlib.aclosing(stream):
        async for _item in stream:
            break
        started = time.perf_counter()
    assert time.perf_counter() - started < 0.05
    # the single worker is free again only if the producer stopped at its next check
    executor.submit(lambda: None).result(timeout=2)


async def test_a_queued_job_whose_consumer_left_never_runs(executor: ThreadPoolExecutor) -> None:
    gate = threading.Event()
    executor.submit(gate.wait, 2)  # the single worker is busy
    ran = threading.Event()

    def produce(stop: threading.Event) -> Iterator[int]:
        ran.set()
        yield 1

    stream = stream_from_thread(executor, produce)
    waiting = asyncio.create_task(anext(stream))
    await asyncio.sleep(0.05)  # the job is queued behind the busy worker
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    gate.set()
    executor.submit(lambda: None).result(timeout=2)
    assert not ran.is_set()

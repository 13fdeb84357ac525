"""The Whisper worker's priority queue: urgent jobs before soon ones before background ones, promotion,
shutdown; jobs nobody waits for held back while ``hold_background`` says so, never longer than
``max_hold_s``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from voxpipe.server.engines.local._priority_worker import Priority, PriorityWorker


@pytest.fixture
def worker() -> Iterator[PriorityWorker]:
    worker = PriorityWorker("test-worker")
    yield worker
    worker.shutdown()


def _blocked(worker: PriorityWorker) -> threading.Event:
    """Occupy the worker until the returned event is set, so the next jobs queue up."""
    release, running = threading.Event(), threading.Event()

    def hold() -> None:
        running.set()
        release.wait(30)

    worker.submit(hold)
    assert running.wait(30)
    return release


def test_urgent_jobs_run_before_queued_background_ones(worker: PriorityWorker) -> None:
    release = _blocked(worker)
    order: list[str] = []
    futures = [
        worker.submit(lambda: order.append("background a"), Priority.BACKGROUND),
        worker.submit(lambda: order.append("soon"), Priority.SOON),
        worker.submit(lambda: order.append("background b"), Priority.BACKGROUND),
        worker.submit(lambda: order.append("urgent a"), Priority.URGENT),
        worker.submit(lambda: order.append("urgent b"), Priority.URGENT),
    ]
    assert worker.queued() == 5
    release.set()
    for future in futures:
        future.result(30)
    assert order == ["urgent a", "urgent b", "soon", "background a", "background b"]


def test_a_promoted_job_overtakes_the_background_queue(worker: PriorityWorker) -> None:
    release = _blocked(worker)
    order: list[str] = []
    first = worker.submit(lambda: order.append("first"), Priority.BACKGROUND)
    waited = worker.submit(lambda: order.append("waited for"), Priority.BACKGROUND)
    worker.promote(waited)
    release.set()
    waited.result(30)
    first.result(30)
    assert order == ["waited for", "first"]


def test_results_and_exceptions_reach_the_future(worker: PriorityWorker) -> None:
    assert worker.submit(lambda: 42).result(30) == 42

    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        worker.submit(fail).result(30)
    assert worker.submit(lambda: "still working").result(30) == "still working"


def test_a_cancelled_queued_job_never_runs(worker: PriorityWorker) -> None:
    release = _blocked(worker)
    ran: list[str] = []
    dropped = worker.submit(lambda: ran.append("dropped"), Priority.BACKGROUND)
    assert dropped.cancel()
    kept = worker.submit(lambda: ran.append("kept"), Priority.BACKGROUND)
    release.set()
    kept.result(30)
    assert ran == ["kept"]


def test_shutdown_cancels_the_queue_and_refuses_new_work() -> None:
    worker = PriorityWorker("test-worker")
    release = _blocked(worker)
    queued = worker.submit(lambda: None, Priority.BACKGROUND)
    stopper = threading.Thread(target=worker.shutdown)
    stopper.start()
    while worker.queued():  # shutdown took the queue while the first job still runs
        time.sleep(0.001)
    release.set()
    stopper.join(30)
    assert not stopper.is_alive()
    assert queued.cancelled()
    with pytest.raises(RuntimeError):
        worker.submit(lambda: None)


class Switch:
    """``hold_background`` for a test: a flag the test turns, counting how often the worker asked."""

    def __init__(self) -> None:
        self.on = True
        self.asked = threading.Event()

    def __call__(self) -> bool:
        self.asked.set()
        return self.on


def test_jobs_nobody_waits_for_wait_while_held_and_urgent_ones_do_not() -> None:
    hold = Switch()
    worker = PriorityWorker("test-worker", hold_background=hold, max_hold_s=3600)
    try:
        order: list[str] = []
        background = worker.submit(lambda: order.append("background"), Priority.BACKGROUND)
        soon = worker.submit(lambda: order.append("soon"), Priority.SOON)
        assert hold.asked.wait(30)  # the worker looked, and holds them back
        urgent = worker.submit(lambda: order.append("urgent"), Priority.URGENT)
        urgent.result(30)
        assert order == ["urgent"] and not background.done() and not soon.done()
        hold.on = False  # no head in the making any more
        background.result(30)
        assert order == ["urgent", "soon", "background"]
    finally:
        worker.shutdown()


def test_a_promoted_job_is_not_held() -> None:
    hold = Switch()
    worker = PriorityWorker("test-worker", hold_background=hold, max_hold_s=3600)
    try:
        job = worker.submit(lambda: "done", Priority.BACKGROUND)
        assert hold.asked.wait(30)
        worker.promote(job)  # somebody waits for it now
        assert job.result(30) == "done"
        assert hold.on  # still held for background jobs
    finally:
        worker.shutdown()


def test_a_held_job_runs_once_its_longest_hold_is_over() -> None:
    worker = PriorityWorker("test-worker", hold_background=lambda: True, max_hold_s=0.0)
    try:
        assert worker.submit(lambda: "done", Priority.BACKGROUND).result(30) == "done"
    finally:
        worker.shutdown()


def test_a_held_job_is_cancelled_by_shutdown() -> None:
    hold = Switch()
    worker = PriorityWorker("test-worker", hold_background=hold, max_hold_s=3600)
    job = worker.submit(lambda: "done", Priority.BACKGROUND)
    assert hold.asked.wait(30)
    worker.shutdown()
    assert job.cancelled()

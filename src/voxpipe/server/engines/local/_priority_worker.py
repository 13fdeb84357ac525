"""One worker thread that runs queued jobs by priority (first in, first out within a priority).

Whisper runs in one thread for the whole process so that sessions queue for the two cores instead of
thrashing them. A plain single-worker executor runs jobs in the order they came, so one session's
background pass (a partial nobody waits for) could hold up another session's pass at the end of its
turn, which its answer waits for. Here a job waited on (``Priority.URGENT``) always runs before the
queued background ones, of every session, and a queued background job can be promoted when somebody
starts waiting for it. A running job is never interrupted: CTranslate2 cannot stop mid-pass, and a
pass lasts a fraction of a second.
"""

from __future__ import annotations

import enum
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Priority", "PriorityWorker"]

T = TypeVar("T")


class Priority(enum.IntEnum):
    """Lower runs first."""

    URGENT = 0  # somebody waits for the result (the end of a turn, a pause, a snapshot)
    BACKGROUND = 1  # nobody waits yet (a partial while the user speaks)


@dataclass(slots=True)
class _Job:
    priority: Priority
    seq: int
    future: Future[Any]
    call: Callable[[], Any] = field(repr=False)


class PriorityWorker:
    """A single worker thread (started on the first job) with a priority queue.

    Args:
        name: the thread's name.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._cond = threading.Condition()
        self._jobs: list[_Job] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, call: Callable[[], T], priority: Priority = Priority.URGENT) -> Future[T]:
        """Queue ``call``; its result or exception goes to the returned future.

        Raises:
            RuntimeError: after ``shutdown`` (as ``concurrent.futures`` executors do).
        """
        future: Future[T] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._jobs.append(_Job(priority, next(self._seq), future, call))
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()
        return future

    def promote(self, future: Future[Any], priority: Priority = Priority.URGENT) -> None:
        """Raise a queued job's priority (somebody now waits for it); a running or done job is left."""
        with self._cond:
            for job in self._jobs:
                if job.future is future and priority < job.priority:
                    job.priority = priority

    def queued(self) -> int:
        """Jobs waiting to run (not counting the one running)."""
        with self._cond:
            return len(self._jobs)

    def _next(self) -> _Job | None:
        with self._cond:
            while not self._jobs and not self._closed:
                self._cond.wait()
            if not self._jobs:
                return None
            job = min(self._jobs, key=lambda j: (j.priority, j.seq))
            self._jobs.remove(job)
            return job

    def _work(self) -> None:
        while (job := self._next()) is not None:
            if not job.future.set_running_or_notify_cancel():
                continue  # cancelled while queued
            try:
                result = job.call()
            except BaseException as exc:  # handed to whoever awaits the future
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)

    def shutdown(self) -> None:
        """Cancel the queued jobs, let the running one end, stop the thread (blocks until it has)."""
        with self._cond:
            self._closed = True
            jobs, self._jobs = self._jobs, []
            self._cond.notify_all()
            thread = self._thread
        for job in jobs:
            job.future.cancel()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

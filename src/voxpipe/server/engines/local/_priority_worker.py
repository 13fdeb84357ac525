"""One worker thread that runs queued jobs by priority (first in, first out within a priority).

Whisper runs in one thread for the whole process so that sessions queue for the two cores instead of
thrashing them. A plain single-worker executor runs jobs in the order they came, so one session's
background pass (a partial nobody waits for) could hold up another session's pass at the end of its
turn, which its answer waits for. Here a job waited on (``Priority.URGENT``) always runs before the
queued background ones, of every session, and a queued background job can be promoted when somebody
starts waiting for it. A running job is never interrupted: CTranslate2 cannot stop mid-pass, and a
pass lasts a fraction of a second.

Jobs nobody waits for yet (``SOON``, ``BACKGROUND``) can also be held back while ``hold_background``
says so (another session's answer is making its first words: ``FairShare.making_head``), for at most
``max_hold_s`` after they were queued, so that such a pass does not take a core from the LLM then. A held
job runs as soon as the holding ends, and at once if it is promoted to ``URGENT``.
"""

from __future__ import annotations

import enum
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Priority", "PriorityWorker"]

T = TypeVar("T")


class Priority(enum.IntEnum):
    """Lower runs first."""

    URGENT = 0  # somebody waits for the result (the end of a turn, a snapshot)
    SOON = 1  # likely wanted shortly (a pause in the speech: its session may speculate on it)
    BACKGROUND = 2  # nobody waits yet (a partial while the user speaks)


@dataclass(slots=True)
class _Job:
    priority: Priority
    seq: int
    future: Future[Any]
    call: Callable[[], Any] = field(repr=False)
    queued_at: float = field(default_factory=time.monotonic)


class PriorityWorker:
    """A single worker thread (started on the first job) with a priority queue.

    Args:
        name: the thread's name.
        hold_background: called from the worker thread: True while background jobs should wait.
        max_hold_s: longest hold of a background job (from when it was queued).
    """

    _POLL_S = 0.02  # how often a held background job looks at ``hold_background`` again

    def __init__(
        self, name: str, hold_background: Callable[[], bool] | None = None, max_hold_s: float = 2.0
    ) -> None:
        self._name = name
        self._hold_background = hold_background
        self._max_hold_s = max_hold_s
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
                    self._cond.notify()  # a held job may go now

    def queued(self) -> int:
        """Jobs waiting to run (not counting the one running)."""
        with self._cond:
            return len(self._jobs)

    def _next(self) -> _Job | None:
        with self._cond:
            while True:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if not self._jobs:
                    return None
                job = min(self._jobs, key=lambda j: (j.priority, j.seq))
                held = self._held_for(job)
                if held <= 0:
                    self._jobs.remove(job)
                    return job
                self._cond.wait(timeout=min(self._POLL_S, held))

    def _held_for(self, job: _Job) -> float:
        """How much longer ``job`` may be held back (0: run it now)."""
        if job.priority is Priority.URGENT or self._hold_background is None:
            return 0.0
        left = self._max_hold_s - (time.monotonic() - job.queued_at)
        if left <= 0 or job.future.cancelled() or not self._hold_background():
            return 0.0
        return left

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

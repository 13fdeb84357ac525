"""Which local engines are computing right now, so that the LLM can borrow a core nobody uses.

On 2 cores the LLM runs one llama.cpp thread: beside a Whisper pass (two CTranslate2 threads) or Piper, a
second llama.cpp thread waits at every step's barrier for a core somebody else holds, and steps took 3 to
10 times longer (``LlamaLLMEngine``'s docstring). Yet while an answer's first words are made, nothing else
usually runs: the pause's Whisper pass has ended, and Piper waits for those words (and while Piper
speaks, the LLM waits anyway: ``_speech_first``). Alone, two threads evaluated a 12-token prompt in
0.15 s instead of 0.4 s and made a token in 48 ms instead of 86 ms. So Whisper and Piper mark the time
they compute (``computing``), and the LLM asks before each evaluation (``idle_besides``) whether it may
run its threads for an idle machine. A pass that starts during such an evaluation shares the cores for
that one step (a token, or a prompt's evaluation); the next step looks again.

Other processes count too: with a test suite running beside the server (load 4-8 on 2 cores), answers
whose LLM borrowed the second core took 6-11 s to start instead of 1-2 s. So the machine's own count
(``/proc/stat``, less this process's CPU time, and the time the hypervisor gave to others) must show that
other processes left the core free over the last ``window_s``; where that cannot be read (not Linux), the
LLM never borrows.

``BusyEngines`` is also the one record of when Piper synthesizes: ``SpeechFirst`` (``_speech_first``)
pauses the LLM while ``"tts"`` computes, waiting on the same counts (``wait``), so that the time the
LLM leaves Piper the cores and the time it may not borrow a core are one and the same.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["BusyEngines", "OtherProcesses", "ThreadChoice"]

logger = logging.getLogger(__name__)


class OtherProcesses:
    """The cores other processes (and other virtual machines) used lately, from ``/proc``.

    Args:
        window_s: the shortest interval a figure is computed over (the kernel counts in 10 ms ticks).
        proc: where procfs is mounted (tests point it at a folder of fake files).
    """

    def __init__(self, window_s: float = 0.2, proc: Path = Path("/proc")) -> None:
        self._window_s = window_s
        self._proc = proc
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last: tuple[float, int, int] | None = self._sample()
        self._cores: float | None = None

    def _sample(self) -> tuple[float, int, int] | None:
        """(monotonic time, busy ticks of the machine, ticks of this process), or None if unreadable."""
        try:
            fields = (self._proc / "stat").read_text().split("\n", 1)[0].split()
            own = (self._proc / "self" / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        if fields[0] != "cpu" or len(fields) < 9 or len(own) < 13:
            return None
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
        return time.monotonic(), user + nice + system + irq + softirq + steal, int(own[11]) + int(own[12])

    def cores(self) -> float | None:
        """Cores used by everything but this process over the last window or more; None: unknown."""
        last = self._last
        if last is None:
            return None
        now = time.monotonic()
        if now - last[0] >= self._window_s:
            sample = self._sample()
            if sample is None:
                self._last = None
                return None
            seconds = sample[0] - last[0]
            others = (sample[1] - last[1]) - (sample[2] - last[2])
            self._cores = max(0.0, others / self._tick / seconds)
            self._last = sample
        return self._cores


class BusyEngines:
    """Shared by the local engines of one engine set (thread-safe).

    Args:
        others: what other processes use; None looks at this process's engines only (tests).
        others_max: the most cores other processes may use for ``idle_besides`` to say yes.
        condition: the lock the counts live under, which ``wait`` waits on (tests pass one that
            records its waits); None: a new ``threading.Condition``.
    """

    def __init__(
        self,
        others: OtherProcesses | None = None,
        others_max: float = 0.3,
        *,
        condition: threading.Condition | None = None,
    ) -> None:
        self._changed = condition if condition is not None else threading.Condition()
        self._computing: Counter[str] = Counter()
        self._others = others
        self._others_max = others_max

    @contextlib.contextmanager
    def computing(self, engine: str) -> Iterator[None]:
        """Hold while ``engine`` (``"stt"``, ``"tts"``, ...) runs a model call, in its worker thread."""
        with self._changed:
            self._computing[engine] += 1
            if self._computing[engine] == 1:
                self._changed.notify_all()  # it computes from now on
        try:
            yield
        finally:
            with self._changed:
                self._computing[engine] -= 1
                if not self._computing[engine]:
                    self._changed.notify_all()  # it no longer computes

    def wait(self, engine: str, *, computing: bool, timeout: float) -> bool:
        """Wait until ``engine`` computes (or, with ``computing=False``, until none of its calls does),
        at most ``timeout`` seconds. Returns whether it came to pass."""
        with self._changed:
            return self._changed.wait_for(lambda: bool(self._computing[engine]) == computing, timeout)

    def idle_besides(self, engine: str) -> bool:
        """Whether no engine other than ``engine`` is computing now, and other processes left the
        cores alone lately (when they are watched)."""
        with self._changed:
            if any(count for name, count in self._computing.items() if name != engine):
                return False
        if self._others is None:
            return True
        cores = self._others.cores()
        return cores is not None and cores <= self._others_max


class ThreadChoice:
    """The LLM's threads, step by step: its idle threads while ``busy`` says nobody else computes, its
    usual ones otherwise, and the usual ones for ``backoff_s`` after a borrowed token came slowly.

    The look at other processes covers the past (``OtherProcesses``); a process that starts while the
    LLM runs two threads makes each step wait at llama.cpp's barriers for the core it took (a token took
    0.3-0.4 s instead of 0.05-0.09 s beside one busy loop). A borrowed token slower than ``slow_factor``
    times the usual one (or than ``slow_s`` before any usual token was timed) gives the core back.

    Args:
        busy: who else computes.
        usual: (threads, batch threads) when the core is not free.
        idle: threads (for both) when it is.
        backoff_s: how long a slow borrowed token keeps the LLM on its usual threads.
        slow_factor: a borrowed token this many times slower than a usual one is slow.
        slow_s: a borrowed token slower than this is slow while no usual token has been timed.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        busy: BusyEngines,
        usual: tuple[int, int],
        idle: int,
        *,
        backoff_s: float = 10.0,
        slow_factor: float = 2.0,
        slow_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._busy = busy
        self._usual = usual
        self._idle = (idle, idle)
        self._backoff_s = backoff_s
        self._slow_factor = slow_factor
        self._slow_s = slow_s
        self._clock = clock
        self._usual_token_s: float | None = None
        self._backoff_until = float("-inf")
        self._step: tuple[float, bool] | None = None  # (start, borrowed) of the step in progress

    def before_step(self) -> tuple[int, int]:
        """The threads for the evaluation about to start."""
        now = self._clock()
        borrow = now >= self._backoff_until and self._busy.idle_besides("llm")
        self._step = (now, borrow)
        return self._idle if borrow else self._usual

    def token_done(self) -> None:
        """The step started by ``before_step`` made one token: time it."""
        if self._step is None:
            return
        (start, borrowed), self._step = self._step, None
        took = self._clock() - start
        if not borrowed:
            last = self._usual_token_s
            self._usual_token_s = took if last is None else 0.8 * last + 0.2 * took
            return
        limit = self._slow_s if self._usual_token_s is None else self._slow_factor * self._usual_token_s
        if took > limit:
            self._backoff_until = self._clock() + self._backoff_s
            logger.info(
                "llm: a token on borrowed threads took %.0f ms; back to the usual threads", took * 1000
            )

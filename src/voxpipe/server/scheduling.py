"""Fair sharing of the models between sessions: the first piece of every answer goes before others' tails.

The local engines ran one model call at a time (one worker thread each on 2 cores), first come, first
served. With several sessions talking, one session's long answer (its later sentences, its whole LLM
generation) then sat in front of another session's first words. ``FairShare`` puts an asyncio-level
gate in front of each model kind (``"llm"``, ``"tts"``): ``slots`` calls hold a model at a time (Piper:
one; the local LLM: ``load_engines(llm_parallel=3)``, decoded together in one batch a step, the heads
first: ``engines/local/_batch_decoder.py``) and, when one lets go, the waiting call with the best
``Priority`` goes next (earliest deadline first within a priority):

* ``JUDGE``: semantic VAD's end-of-turn judgement (``connection/end_of_turn.py``): one short look at the
  words of a turn (their few tokens over a cached prompt, about 0.1 s), which the end of that turn, and so
  its whole answer, waits for. It goes before any generation, the session's own speculation included;
* ``HEAD``: the start of a confirmed answer: its LLM generation, the synthesis of its first piece; and a
  tail that is due (below);
* ``SPECULATIVE``: work done during a pause on a turn that may not be over (``connection/speculation.py``);
  promoted to ``HEAD`` the moment its turn is confirmed (the priority is read when the gate is handed on);
* ``TAIL``: the later pieces of an answer, which the listener will not hear for a while anyway;
* ``PREFILL``: reading the words of a turn still being spoken into the LLM's prompt cache
  (``connection/prefill.py``): useful only if nothing else wants the model, so it gives the model up to
  any other call between its short steps.

Within a priority the waiter with the earliest deadline goes first (first come first served for waiters
without one: their deadline is the time they started waiting). A confirmed answer's head has its own
start as deadline: its listener has been waiting since. A tail is not always a tail, though: three answers
share about 11 tokens/s of the LLM while each needs about 3.5 to keep up with its own speech, so with
heads strictly first a tail was served only once every head was, and its listener heard a gap (a stall)
in 11-12 of 18 answers at 3 sessions. So with ``deadlines`` a tail whose listener is about to run out of
audio (``connection/playback.py``: less queued ahead than the model needs to make the next piece,
``llm_lead_s`` / ``tts_lead_s``) is placed as a ``HEAD``, with the moment its listener would need the next
piece (runs out, minus the lead) as deadline, so it competes with the heads in earliest-deadline order and
goes before speculations and comfortable tails. An answer's second piece (the rest of its first sentence,
behind a first piece of two words) is such a tail as soon as its first piece is out. This is off by
default: measured with ``bench/voice_latency.py --sessions 3`` on the shared 2-core machine (load 1-10,
A/B back to back) it gave fewer stalls in some runs but a later first audio, and in others more of both;
the LLM there makes words hardly faster than three listeners hear them, so time given to a tail is taken
from another answer's first words, and every hand-over costs a prompt evaluation.

A held gate is never taken away by force (a model step cannot be interrupted), so the gain comes at
call boundaries: the TTS works piece by piece (at most 60 characters a piece), so a waiting first piece
gets the TTS within one piece of another answer. An LLM generation is one long call, so it gives the
model up itself: with ``preempt``, a generation checks ``yields_to`` after every token and, when a
better-priority call waits (a judgement; or another answer's head, for a speculation or a generation past
its head), stops and queues again to resume later from the words it said (``LLMRequest.continuation``,
for ``resumable`` engines). Without that, the whole answer of one session (hundreds of tokens) sat in
front of another's first words. A due generation is a ``HEAD`` too: another head does not take the LLM
from it at the next token while its listener has less than ``llm_lead_s`` ahead. Past that, or after a
head's worth of tokens (when the LLM makes words hardly faster than they are spoken, as on a loaded
machine, the lead never comes), it gives the LLM up to a waiting head of earlier deadline (a confirmed
answer's first words: its listener has waited since its turn ended; a listener that ran out has waited
since its audio ended), and it stays due, ahead of speculations and comfortable tails, until its listener
has twice ``llm_lead_s`` ahead. When this was written every hand-over cost the next generation its
prompt's evaluation (the prompt cache held one conversation), so a generation that gave the LLM up as
soon as it was not due came back a moment later for a few words, and the LLM went to reading prompts
again. The local LLM now keeps each conversation evaluated (``engines/local/_batch_decoder.py``): a
hand-over costs it a few milliseconds, and an HTTP engine's server keeps its own cache; the rule stays,
its leads are not re-tuned for that yet.

With ``short_heads`` an answer's head ends when its first piece is cut for the TTS, not after a fixed 8
tokens: the listener's first words need nothing more from the LLM, so its generation then gives the LLM up
to another answer's waiting head and goes on after it (a hand-over is cheap now that the LLM keeps each
conversation evaluated: ``engines/local/_batch_decoder.py``). It is off by default: at 3 sessions
(``bench/voice_latency.py --sessions 3``, back to back) it brought end of audio -> first audio p95 from
2075 to 1746 ms over 42 turns (load 1.0-1.9) before the lead's VAD change, but on today's main p95 was the
same (1409 against 1403 ms, p50 886 against 991, load 0.1-1.4) with more turns gapped after their first
piece (15 of 21 against 10): the first answer's rest waits for the other heads.

``llm_head_waits`` tells the LLM engine that an answer's head waits for the LLM, so it does not pause
for another answer's speech then (``engines/local/_speech_first.py``): paused, the LLM waited up to 0.3 s
a token while heads queued behind it (3 sessions, back to back: p95 2938 ms with the pause, 1551 without,
load 0.7-1.8).

The models also share the CPU cores: a tail piece synthesized while another answer's LLM evaluates its
prompt slows that LLM down. So a tail piece first waits until no answer's head is in the making
(``head()`` marks one: an LLM generation until its first words, a first piece's synthesis), at most
``tail_wait_s``: the listener of the long answer has seconds of audio queued already (the TTS runs
many times faster than speech), and the bound keeps any tail from starving. A due tail does not wait.

Whisper's background passes (partial transcripts of sessions still speaking, which nobody waits for) took
0.4-0.6 of a core while another session's LLM made an answer's first words. ``making_head`` tells the STT
engine's worker (from its own thread) that a head is in the making, a speculation's included
(``head(speculative=True)``; tails do not wait for a guess), so it holds background passes back meanwhile
(``engines/local/_priority_worker.py``).

One ``FairShare`` per process, shared by the sessions of one ``Engines``; without one (``None``: test and
HTTP engines, which may serve calls in parallel) calls go straight to the engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

__all__ = ["FairShare", "Priority", "PriorityGate"]

logger = logging.getLogger(__name__)


class Priority(enum.IntEnum):
    """Lower goes first."""

    JUDGE = 0
    HEAD = 1
    SPECULATIVE = 2
    TAIL = 3
    PREFILL = 4


@dataclass(slots=True)
class _Waiter:
    priority: Callable[[], Priority]
    deadline: Callable[[], float] | None
    order: int
    since: float = field(default_factory=time.monotonic)
    granted: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def key(self) -> tuple[Priority, float, int]:
        """Best priority, then earliest deadline (the time it started waiting when it has none), then
        oldest."""
        deadline = self.deadline() if self.deadline is not None else self.since
        return self.priority(), deadline, self.order


class PriorityGate:
    """``slots`` holders at a time; a free slot goes to the waiter of best priority, then earliest
    deadline, then oldest.

    Args:
        name: for logs.
        slots: how many calls may hold it at once.
    """

    def __init__(self, name: str, slots: int = 1) -> None:
        if slots < 1:
            raise ValueError(f"PriorityGate {name!r} needs at least one slot, got {slots}")
        self.name = name
        self._free = slots
        self._waiters: list[_Waiter] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        """Calls waiting for a slot."""
        return len(self._waiters)

    def wanted_before(self, priority: Priority, deadline: float | None = None) -> bool:
        """Whether a call of a better priority than ``priority`` waits for a slot; with ``deadline``, or
        one of the same priority with an earlier deadline."""
        if deadline is None:
            return any(waiter.priority() < priority for waiter in self._waiters)
        return any(waiter.key()[:2] < (priority, deadline) for waiter in self._waiters)

    @contextlib.asynccontextmanager
    async def hold(
        self, priority: Callable[[], Priority], deadline: Callable[[], float] | None = None
    ) -> AsyncIterator[None]:
        """Hold a slot for the body. Cancelling while waiting is safe (the place is given up).

        Args:
            priority: read whenever the slot is handed on (it may change while waiting).
            deadline: ``time.monotonic`` seconds, earlier first within a priority; None: the time the
                call started waiting.
        """
        if self._free and not self._waiters:
            self._free -= 1
        else:
            waiter = _Waiter(priority, deadline, next(self._order))
            self._waiters.append(waiter)
            try:
                await waiter.granted
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif waiter.granted.done() and not waiter.granted.cancelled():
                    self._release()  # granted just as it was cancelled: hand the slot on
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        if not self._waiters:
            self._free += 1
            return
        best = min(self._waiters, key=_Waiter.key)
        self._waiters.remove(best)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s gate -> %s (%d waiting)", self.name, best.priority().name, len(self._waiters))
        best.granted.set_result(None)


class FairShare:
    """One ``PriorityGate`` per model kind, shared by the sessions of a process.

    Args:
        llm_slots: LLM calls at a time (the local LLM decodes ``llm_parallel`` together: 3).
        tts_slots: TTS calls at a time (Piper: 1).
        tail_wait_s: longest wait of a tail piece for other answers' heads.
        preempt: a generation holding the LLM gives it up to a better-priority call between tokens
            (``yields_to``); False: a generation holds the LLM until it ends.
        deadlines: a tail whose listener is about to run out of audio is placed as a head (see the module
            docstring); False (the default: at 3 sessions it gave fewer stalls in some runs but later
            first audio, and more stalls in others; ``bench/voice_latency.py``): tails are tails
            whatever their listener has left.
        llm_lead_s: a generation past its head is due when its listener has less speech than this ahead
            (audio sent and pieces waiting for the TTS), and stays due until twice this; its deadline is
            this long before its listener runs out.
        tts_lead_s: a later piece is due when its listener has less audio than this ahead; its deadline is
            this long before its listener runs out.
        short_heads: a generation's head ends when its first piece is cut for the TTS (a few words), not
            after ``_HEAD_DELTAS`` tokens: then it gives the LLM up to another answer's waiting head (off
            by default; see the module docstring).
    """

    def __init__(
        self,
        llm_slots: int = 1,
        tts_slots: int = 1,
        tail_wait_s: float = 0.5,
        *,
        preempt: bool = True,
        deadlines: bool = False,
        llm_lead_s: float = 1.5,
        tts_lead_s: float = 0.8,
        short_heads: bool = False,
    ) -> None:
        self._gates = {"llm": PriorityGate("llm", llm_slots), "tts": PriorityGate("tts", tts_slots)}
        self._tail_wait_s = tail_wait_s
        self.preempt = preempt
        self.deadlines = deadlines
        self.llm_lead_s = llm_lead_s
        self.tts_lead_s = tts_lead_s
        self.short_heads = short_heads
        self._heads = 0
        self._making = 0
        self._no_heads = asyncio.Event()
        self._no_heads.set()

    @property
    def heads(self) -> int:
        """Confirmed answers' heads in the making."""
        return self._heads

    def making_head(self) -> bool:
        """Whether any answer's head is in the making, a speculation's included. Safe to call from any
        thread (the STT worker asks it between passes): it reads one integer."""
        return self._making > 0

    def llm_head_waits(self) -> bool:
        """Whether an answer's head (a speculation's or a judgement too: anything before a tail) waits
        for the LLM. Asked from the LLM's worker thread between tokens (``engines/local/_speech_first.py``):
        it only reads the waiters' places."""
        return self._gates["llm"].wanted_before(Priority.TAIL)

    @contextlib.contextmanager
    def head(self, *, speculative: bool = False) -> Iterator[None]:
        """Mark the body as an answer's head: tails wait for it, background passes are held back (see
        the module docstring). ``speculative``: a guess, which only the background passes wait for."""
        self._making += 1
        if not speculative:
            self._heads += 1
            self._no_heads.clear()
        try:
            yield
        finally:
            self._making -= 1
            if not speculative:
                self._heads -= 1
                if not self._heads:
                    self._no_heads.set()

    async def let_heads_pass(self) -> None:
        """Wait (at most ``tail_wait_s``) until no head is in the making; a tail calls it before it runs."""
        if self._heads:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._tail_wait_s):
                    await self._no_heads.wait()

    def yields_to(self, kind: str, priority: Priority, deadline: float | None = None) -> bool:
        """Whether a call of ``kind`` now at ``priority`` should give the model up (see the module
        docstring): ``preempt`` is on and a call of a better priority waits, or (given the holder's
        ``deadline``) one of the same priority with an earlier deadline."""
        return self.preempt and self._gates[kind].wanted_before(priority, deadline)

    def gate(self, kind: str) -> PriorityGate:
        """The gate of ``"llm"`` or ``"tts"``."""
        return self._gates[kind]

    @staticmethod
    @contextlib.asynccontextmanager
    async def turn(
        fair_share: FairShare | None,
        kind: str,
        priority: Callable[[], Priority],
        deadline: Callable[[], float] | None = None,
    ) -> AsyncIterator[None]:
        """Hold ``kind``'s gate of ``fair_share`` for the body (``PriorityGate.hold``); nothing to wait for
        when it is None."""
        if fair_share is None:
            yield
            return
        if priority() is Priority.TAIL:
            await fair_share.let_heads_pass()
        async with fair_share.gate(kind).hold(priority, deadline):
            yield

"""Model calls decoded together: one llama.cpp context, a sequence per conversation, one batch per step.

Decoding a token reads every weight of the model once, so it is bound by memory far more than by
arithmetic: on this project's 2-core machine, the 0.5B model on one thread took 65 ms for one sequence's
next token, 81-95 ms for two sequences' and 116-120 ms for three's in the same ``llama_decode`` (15, 22-25
and 25 tokens/s in all). With one call at a time, three sessions answering at once shared the 15 tokens/s
(each needs about 3.5 to keep up with its own speech), and a head waited for another answer's tokens.
Decoded together, every call that holds the model advances at each step.

How it works:

* **One thread owns the model.** Calls are submitted from the event loop (``stream``) and run on the
  decoder's thread, which alone touches the context: it opens the model on first use, renders each call's
  prompt (``Call.prepare``, so the event loop never tokenizes), and posts what the call produces back to
  the loop (``call_soon_threadsafe`` onto the consumer's queue, as ``_threads.stream_from_thread`` does).
* **A slot per conversation.** The context has ``slots`` sequences. A call takes an idle slot and leaves
  its tokens in the key-value cache when it ends, so the next call of the same conversation (the answer
  after the words were read ahead, the rest of an answer that gave the model up, the next turn) finds them
  evaluated. A call gets the idle slot holding the longest prefix of its tokens; when another slot (idle
  or busy) holds a longer one, that prefix is shared into the call's slot (llama.cpp's unified cache
  shares the cells, no copy), so the system block is evaluated once for every session.
* **One batch per step**: the next token of every generating call, and prompt tokens of the calls still
  reading their prompts (all of them, up to the batch size; a call that asks for short steps, the
  prefill of words still being spoken, at most ``Prompt.step_tokens`` a step, so the others are not held up).
* **Heads first**: while a call reads the prompt of an answer or makes its first few tokens (its head: the
  words the listener waits for), the calls past their heads and the read-aheads sit out up to
  ``tail_skips`` steps in a row: a step costs about 65 ms for one sequence and 120 ms for three, so an
  answer's first words otherwise came at the pace of three.
* **The last logits are kept.** A call that reads a prompt without generating (semantic VAD's judgement,
  which reads the answer's whole prompt in the same decode) leaves that prompt's last logits in its slot;
  a generation whose prompt is exactly those tokens samples its first token from them at once instead of
  evaluating the last token again (a step: ~65 ms).
* **Full cache**: when a step finds no room, the least recently used idle slot is cleared and the step
  tried again; with no idle slot left, the call with the most prompt tokens in the step fails with a typed
  error (its session goes on) and the others go on.

The model itself sits behind ``Backend`` (``_llama_backend.LlamaBackend``), so the scheduling of calls
and slots is tested without one.
"""

from __future__ import annotations

import asyncio
import codecs
import itertools
import logging
import threading
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from voxpipe.server.engines.base import EngineError
from voxpipe.server.engines.local._errors import model_errors
from voxpipe.server.engines.local._threads import poster

__all__ = [
    "Backend",
    "BatchDecoder",
    "Call",
    "Finished",
    "Progress",
    "Prompt",
    "Read",
    "Sampler",
    "Sampling",
    "Started",
    "StepReport",
]

logger = logging.getLogger(__name__)

Logits = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Sampling:
    """How a generation picks its tokens.

    Args:
        temperature: 0 samples greedily.
        max_tokens: tokens sampled at most (the end-of-generation token included).
        grammar: GBNF text (root rule ``root``) the tokens must follow, or None.
    """

    temperature: float
    max_tokens: int
    grammar: str | None = None


@dataclass(frozen=True, slots=True)
class Prompt:
    """What a call evaluates: ``tokens``, then (with ``Sampling``) the tokens it generates.

    Args:
        tokens: the whole prompt; its first tokens may be found in the cache.
        read_at: an index into ``tokens`` whose logits are posted (a ``Read``), or None.
        step_tokens: prompt tokens evaluated a step at most (None: as many as the batch holds).
        max_tokens: a lower cap than ``Sampling.max_tokens`` found with the prompt (the room left in the
            context), or None.
    """

    tokens: Sequence[int]
    read_at: int | None = None
    step_tokens: int | None = None
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Read:
    """Posted once: the logits of ``Prompt.tokens[read_at]`` (a copy)."""

    logits: Logits


@dataclass(frozen=True, slots=True)
class Progress:
    """Posted after each step that evaluated prompt tokens of the call: how many of them are cached."""

    cached: int


@dataclass(frozen=True, slots=True)
class Started:
    """Posted first, when the call has its slot.

    Attributes:
        prompt_tokens: tokens of the prompt.
        cached_tokens: of those, found evaluated in the cache.
    """

    prompt_tokens: int
    cached_tokens: int


@dataclass(frozen=True, slots=True)
class Finished:
    """Posted last, when the call ran to its end (not when it failed or was stopped).

    Attributes:
        output_tokens: tokens sampled (the end-of-generation token included).
        ended: the model ended its generation itself (not ``max_tokens``).
    """

    output_tokens: int
    ended: bool


Item = str | Started | Read | Progress | Finished


@dataclass(frozen=True, slots=True)
class Call:
    """One model call.

    Args:
        prepare: run on the decoder's thread when the call starts: its ``Prompt`` (rendering and
            tokenizing there keeps the event loop free). An exception fails the call.
        sampling: generate after the prompt, posting text as it comes; None: only evaluate it.
        keep_logits: keep the prompt's last logits in the slot for a generation of exactly this prompt.
    """

    prepare: Callable[[], Prompt]
    sampling: Sampling | None = None
    keep_logits: bool = False


@dataclass(frozen=True, slots=True)
class StepReport:
    """What one step did, for the engine's hooks (``BatchDecoder.after_step``).

    Attributes:
        texts: (index of the token in its generation, its text) of each call that sampled one.
        heads: calls in the step reading their prompt or within their first ``head_tokens`` tokens.
        prompt_tokens: prompt tokens evaluated in the step.
    """

    texts: list[tuple[int, str]]
    heads: int
    prompt_tokens: int


class Sampler(Protocol):
    """Picks a generation's tokens from logits (llama.cpp's sampler chain in ``_llama_backend``)."""

    def sample(self, logits: Logits) -> int: ...

    def close(self) -> None: ...


class Backend(Protocol):
    """The model's context, as the decoder uses it (every method runs on the decoder's thread)."""

    n_batch: int

    def decode(
        self, tokens: Sequence[int], positions: Sequence[int], seqs: Sequence[int], logits: Sequence[bool]
    ) -> int:
        """One ``llama_decode``: 0 done, 1 no room in the cache (nothing changed); raises on an error."""
        ...

    def logits(self, index: int) -> Logits:
        """A copy of the logits of the ``index``-th entry of the last decode (one marked for logits)."""
        ...

    def remove(self, seq: int, start: int) -> None:
        """Drop ``seq``'s cells from position ``start`` on."""
        ...

    def share(self, source: int, target: int, end: int) -> None:
        """Make ``target`` (empty) hold ``source``'s cells of positions ``[0, end)``."""
        ...

    def sampler(self, sampling: Sampling) -> Sampler: ...

    def is_end(self, token: int) -> bool:
        """Whether ``token`` ends a generation."""
        ...

    def piece(self, token: int) -> bytes:
        """The text of ``token`` (empty for control tokens)."""
        ...

    def close(self) -> None:
        """Free the context."""
        ...


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass(eq=False, slots=True)
class _Slot:
    seq: int
    tokens: list[int] = field(default_factory=list)  # in the cache, at positions 0..len-1
    logits: Logits | None = None  # of tokens[-1], when a call kept them
    owner: _Running | None = None
    used: int = 0  # for least recently used


class _Post(Protocol):
    def __call__(self, item: object, error: BaseException | None = None) -> None: ...


class _Running:
    """A call on the decoder's thread, from its start to its end."""

    def __init__(self, call: Call, post: _Post, stop: threading.Event) -> None:
        self.call = call
        self.post = post
        self.stop = stop
        self.prompt: Prompt | None = None
        self.slot: _Slot | None = None
        self.done = 0  # tokens of the prompt in the slot's cells
        self.pending: int | None = None  # sampled, to be evaluated at the next step
        self.produced = 0
        self.skipped = 0  # steps sat out in a row for others' heads
        self.sampler: Sampler | None = None
        self.text = codecs.getincrementaldecoder("utf-8")(errors="replace")

    @property
    def reading(self) -> bool:
        """Still evaluating its prompt."""
        return self.prompt is not None and self.done < len(self.prompt.tokens)


@dataclass(frozen=True, slots=True)
class _Entry:
    """A token of a decode: a generation's pending token, or (``prompt``) one of a prompt's."""

    running: _Running
    token: int
    position: int
    seq: int
    wants: bool  # its logits are read
    prompt: bool = False


def _calls(plan: Sequence[_Entry]) -> list[_Running]:
    """The calls of a step, each once, in order."""
    return list(dict.fromkeys(entry.running for entry in plan))


_END = object()


class BatchDecoder:
    """Runs model calls on one thread, decoding those in progress together (see the module docstring).

    Args:
        open_backend: opens the model (on the decoder's thread, at the first call); its exception fails
            the calls waiting and is raised again at the next call.
        slots: sequences of the context: calls in progress at once, and conversations kept between calls.
        head_tokens: a generation's first tokens, in which it counts as an answer's head.
        tail_skips: steps in a row a call past its head (or a read-ahead) sits out while another call's
            head is in the making (0: never): an answer's first words come at the pace of a step of
            one or two sequences, and the tails, whose listeners have audio queued, lose a few steps.
        before_step: called before each decode (the engine picks its threads there).
        after_step: called after each step with what it did (the engine's pause for speech there).
        thread_name: the decoder thread's name.
    """

    def __init__(
        self,
        open_backend: Callable[[], Backend],
        *,
        slots: int,
        head_tokens: int = 8,
        tail_skips: int = 4,
        before_step: Callable[[], None] | None = None,
        after_step: Callable[[StepReport], None] | None = None,
        thread_name: str = "voxpipe-llama",
    ) -> None:
        if slots < 1:
            raise ValueError(f"a BatchDecoder needs at least one slot, got {slots}")
        self._open_backend = open_backend
        self._backend: Backend | None = None
        self._slots = [_Slot(seq) for seq in range(slots)]
        self._head_tokens = head_tokens
        self._tail_skips = tail_skips
        self._before_step = before_step
        self._after_step = after_step
        self._thread_name = thread_name
        self._lock = threading.Condition()
        self._incoming: deque[_Running] = deque()
        self._waiting: deque[_Running] = deque()  # started, no free slot yet
        self._running: list[_Running] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        self._clock = itertools.count(1)

    # -- the event loop's side -----------------------------------------------------------------------

    async def stream(self, call: Call) -> AsyncGenerator[Item, None]:
        """Run ``call`` and yield what it posts; its error is raised here. Closing the iterator stops
        the call at the decoder's next step (its tokens evaluated so far stay in its slot)."""
        queue: asyncio.Queue[tuple[object, BaseException | None]] = asyncio.Queue()
        stop = threading.Event()
        self._submit(_Running(call, poster(queue, stop), stop))
        try:
            while True:
                item, error = await queue.get()
                if error is not None:
                    raise error
                if item is _END:
                    return
                yield item  # type: ignore[misc]
        finally:
            stop.set()
            with self._lock:
                self._lock.notify()

    def close(self) -> None:
        """Stop the thread (blocking until the step in progress ends) and free the model."""
        with self._lock:
            self._closed = True
            self._lock.notify()
            thread = self._thread
        if thread is not None:
            thread.join()
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    @property
    def kept(self) -> int:
        """Slots holding evaluated tokens (for tests and logs)."""
        return sum(1 for slot in self._slots if slot.tokens)

    def _submit(self, running: _Running) -> None:
        with self._lock:
            if self._closed:
                raise EngineError("the LLM engine is closed", code="engine_closed", recoverable=False)
            self._incoming.append(running)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
                self._thread.start()
            self._lock.notify()

    # -- the decoder's thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._closed and not self._incoming and not self._has_work():
                    self._lock.wait()
                if self._closed:
                    break
                self._waiting.extend(self._incoming)
                self._incoming.clear()
            try:
                self._drop_stopped()
                self._start_waiting()
                if self._running:
                    self._step()
            except Exception as exc:  # a bug of ours: fail the calls in progress, keep serving
                logger.exception("llm: the batch decoder failed a step")
                for running in list(self._running):
                    self._fail(running, exc)
        for running in [*self._running, *self._waiting, *self._incoming]:
            running.post(_END, EngineError("the LLM engine closed", code="engine_closed", recoverable=False))

    def _has_work(self) -> bool:
        if self._running:
            return True
        return any(running.stop.is_set() for running in self._waiting) or (
            bool(self._waiting) and any(slot.owner is None for slot in self._slots)
        )

    def _drop_stopped(self) -> None:
        for running in [r for r in self._running if r.stop.is_set()]:
            self._end(running, finished=False)
        for running in [r for r in self._waiting if r.stop.is_set()]:
            self._waiting.remove(running)
            running.post(_END)

    def _start_waiting(self) -> None:
        while self._waiting:
            slot = next((slot for slot in self._slots if slot.owner is None), None)
            if slot is None:
                return
            running = self._waiting.popleft()
            try:
                if self._backend is None:
                    with model_errors("loading the LLM", recoverable=False):
                        self._backend = self._open_backend()
                with model_errors("preparing the LLM prompt"):
                    prompt = running.call.prepare()
                if not prompt.tokens:  # nothing to evaluate (a prompt without the words to read)
                    running.post(Started(0, 0))
                    running.post(Finished(0, False))
                    running.post(_END)
                    continue
                if running.call.sampling is not None:
                    running.sampler = self._backend.sampler(running.call.sampling)
            except Exception as exc:
                running.post(_END, exc)
                continue
            running.prompt = prompt
            self._place(running, prompt)

    def _place(self, running: _Running, prompt: Prompt) -> None:
        """Give ``running`` the best idle slot and as much of its prompt as the cache holds."""
        assert self._backend is not None
        tokens = prompt.tokens
        idle = [slot for slot in self._slots if slot.owner is None]
        # its own conversation (or a prefix of it): nothing there is lost by going on from it
        ours = [
            slot for slot in idle if slot.tokens and common_prefix(slot.tokens, tokens) == len(slot.tokens)
        ]
        if ours:
            own = max(ours, key=lambda slot: len(slot.tokens))
        else:  # an empty slot, else the least recently used
            own = min(idle, key=lambda slot: (bool(slot.tokens), slot.used))
        keep = common_prefix(own.tokens, tokens)
        donor = max(self._slots, key=lambda slot: common_prefix(slot.tokens, tokens))
        shared = common_prefix(donor.tokens, tokens)
        if shared > keep and donor is not own:
            self._backend.remove(own.seq, 0)
            self._backend.share(donor.seq, own.seq, shared)
            own.tokens, own.logits, keep = list(tokens[:shared]), None, shared
        ready = (
            len(own.tokens) == keep == len(tokens)
            and own.logits is not None
            and running.call.sampling is not None
        )
        if not ready:
            needs_last = running.call.sampling is not None or running.call.keep_logits
            limit = len(tokens) - 1 if needs_last else len(tokens)  # the last logits are needed fresh
            if prompt.read_at is not None:
                limit = min(limit, prompt.read_at)
            keep = min(keep, limit)
        if keep < len(own.tokens):
            self._backend.remove(own.seq, keep)
            del own.tokens[keep:]
            own.logits = None
        own.owner, running.slot = running, own
        running.done = keep
        self._running.append(running)
        running.post(Started(len(tokens), keep))
        if ready:
            assert own.logits is not None
            logits, own.logits = own.logits, None
            self._sampled(running, logits)
        elif not running.reading:  # a read-ahead of words all in the cache already
            self._end(running, finished=True)

    def _step(self) -> None:
        """One decode of the next token of each generation and the prompt tokens of those reading."""
        backend = self._backend
        assert backend is not None
        while True:
            plan = self._plan(backend.n_batch)
            if not plan:  # (cannot happen: every call in progress reads or has a token pending)
                for running in list(self._running):
                    self._end(running, finished=True)
                return
            tokens = [entry.token for entry in plan]
            positions = [entry.position for entry in plan]
            seqs = [entry.seq for entry in plan]
            wants = [entry.wants for entry in plan]
            if self._before_step is not None:
                self._before_step()
            try:
                with model_errors("llama.cpp decode"):
                    code = backend.decode(tokens, positions, seqs, wants)
            except EngineError as exc:
                for running in _calls(plan):
                    self._forget(running)
                    self._fail(running, exc)
                return
            if code == 0:
                break
            if not self._make_room(plan):
                return
        self._advance(plan)

    def _is_head(self, running: _Running) -> bool:
        """Reading the prompt of a call that waits for it whole, or within a generation's first tokens."""
        prompt = running.prompt
        if running.reading:
            return prompt is not None and prompt.step_tokens is None
        return running.call.sampling is not None and running.produced < self._head_tokens

    def _sits_out(self, running: _Running, heads: bool) -> bool:
        """Whether a call past its head (or a read-ahead) is left out of this step for the heads, at most
        ``tail_skips`` steps in a row."""
        if not heads or self._is_head(running) or running.skipped >= self._tail_skips:
            running.skipped = 0
            return False
        running.skipped += 1
        return True

    def _plan(self, budget: int) -> list[_Entry]:
        """The entries of the next decode: each generation's pending token, then prompt tokens."""
        plan: list[_Entry] = []
        heads = any(self._is_head(running) for running in self._running)
        taking = [running for running in self._running if not self._sits_out(running, heads)]
        for running in taking:
            if running.pending is not None and running.slot is not None:
                plan.append(
                    _Entry(running, running.pending, len(running.slot.tokens), running.slot.seq, True)
                )
        budget -= len(plan)
        for running in taking:
            prompt, slot = running.prompt, running.slot
            if budget <= 0 or not running.reading or prompt is None or slot is None:
                continue
            take = min(len(prompt.tokens) - running.done, budget, prompt.step_tokens or budget)
            last = len(prompt.tokens) - 1
            needs_last = running.call.sampling is not None or running.call.keep_logits
            for index in range(running.done, running.done + take):
                wants = index == prompt.read_at or (index == last and needs_last)
                plan.append(_Entry(running, prompt.tokens[index], index, slot.seq, wants, prompt=True))
            budget -= take
        return plan

    def _make_room(self, plan: list[_Entry]) -> bool:
        """After a decode found no room: clear the least recently used idle slot, or else fail the call
        with the most prompt tokens in the step. False when nothing is left to decode."""
        assert self._backend is not None
        for running in _calls(plan):  # in case the failed decode left cells behind
            if running.slot is not None:
                self._backend.remove(running.slot.seq, len(running.slot.tokens))
        idle = [slot for slot in self._slots if slot.owner is None and slot.tokens]
        if idle:
            slot = min(idle, key=lambda slot: slot.used)
            logger.info("llm: the cache is full; dropping a kept conversation of %d tokens", len(slot.tokens))
            self._backend.remove(slot.seq, 0)
            slot.tokens, slot.logits = [], None
            return True
        counts: dict[_Running, int] = {}
        for entry in plan:
            counts[entry.running] = counts.get(entry.running, 0) + int(entry.prompt)
        victim = max(counts, key=lambda running: counts[running])
        self._forget(victim)
        self._fail(
            victim,
            EngineError(
                "the LLM's cache has no room for this conversation next to the others in progress; try again",
                code="context_length_exceeded",
                recoverable=True,
            ),
        )
        return bool(self._running)

    def _advance(self, plan: list[_Entry]) -> None:
        """Book the decoded tokens into their slots, post reads and progress, sample the next tokens."""
        assert self._backend is not None
        calls = _calls(plan)
        heads = sum(1 for running in calls if self._is_head(running))
        for entry in plan:
            slot = entry.running.slot
            assert slot is not None
            slot.tokens.append(entry.token)
            slot.logits = None
            if entry.prompt:
                entry.running.done += 1
            else:
                entry.running.pending = None
        texts: list[tuple[int, str]] = []
        for index, entry in enumerate(plan):
            running, prompt = entry.running, entry.running.prompt
            if not entry.wants or prompt is None or running.slot is None or running not in self._running:
                continue
            if entry.prompt and entry.position == prompt.read_at:
                running.post(Read(self._backend.logits(index)))
            if not entry.prompt or entry.position == len(prompt.tokens) - 1:
                if running.call.sampling is not None:
                    text = self._sampled(running, self._backend.logits(index))
                    if text is not None:
                        texts.append((running.produced - 1, text))
                elif running.call.keep_logits:
                    running.slot.logits = self._backend.logits(index)
        for running in calls:
            if running.call.sampling is None and running in self._running:
                running.post(Progress(running.done))
                if not running.reading:
                    self._end(running, finished=True)
        if self._after_step is not None:
            self._after_step(StepReport(texts, heads, sum(1 for entry in plan if entry.prompt)))

    def _sampled(self, running: _Running, logits: Logits) -> str | None:
        """Sample ``running``'s next token from ``logits``: post its text, or end the call."""
        assert self._backend is not None and running.sampler is not None and running.call.sampling
        with model_errors("llama.cpp sampling"):
            token = running.sampler.sample(logits)
        running.produced += 1
        if self._backend.is_end(token):
            self._end(running, finished=True, ended=True)
            return None
        text = running.text.decode(self._backend.piece(token))
        if text:
            running.post(text)
        cap = running.call.sampling.max_tokens
        if running.prompt is not None and running.prompt.max_tokens is not None:
            cap = min(cap, running.prompt.max_tokens)
        if running.produced >= cap:
            self._end(running, finished=True)
        else:
            running.pending = token
        return text

    def _release(self, running: _Running) -> None:
        """``running`` is over: its slot is free (its evaluated tokens stay), its sampler closed."""
        if running in self._running:
            self._running.remove(running)
        slot = running.slot
        if slot is not None and slot.owner is running:
            slot.owner = None
            slot.used = next(self._clock)
        if running.sampler is not None:
            running.sampler.close()
            running.sampler = None

    def _end(self, running: _Running, *, finished: bool, ended: bool = False) -> None:
        """Release the call; post ``Finished`` (when it ran to its end) and the end."""
        self._release(running)
        if finished and running.prompt is not None:
            tail = running.text.decode(b"", final=True)
            if tail:
                running.post(tail)
            running.post(Finished(running.produced, ended))
        running.post(_END)

    def _forget(self, running: _Running) -> None:
        """Clear ``running``'s slot: after a failed decode its cells are not known."""
        slot = running.slot
        if slot is not None and self._backend is not None:
            self._backend.remove(slot.seq, 0)
            slot.tokens, slot.logits = [], None

    def _fail(self, running: _Running, error: BaseException) -> None:
        self._release(running)
        running.post(_END, error)

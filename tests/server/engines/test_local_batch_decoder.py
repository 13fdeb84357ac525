"""The batch decoder (``engines/local/_batch_decoder.py``) over a toy model that checks every decode.

The toy model's next token depends on every token of its sequence, as a transformer's does: a call whose
cache held the wrong tokens (a prefix shared from the wrong slot, cells left behind) would generate other
tokens than the same call run alone. Its cache counts shared cells once, like llama.cpp's unified cache,
and refuses a decode it has no room for (code 1). No model, no timing: every test is deterministic.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest

from voxpipe.server.engines.base import EngineError
from voxpipe.server.engines.local._batch_decoder import (
    BatchDecoder,
    Call,
    Finished,
    Item,
    Logits,
    Progress,
    Prompt,
    Read,
    Sampling,
    Started,
    StepReport,
)

VOCAB = 64
END = 1  # the toy model's end of generation


def next_token(content: Sequence[int]) -> int:
    """The toy model: the next token after ``content`` (never END unless the content ends in 7, 7)."""
    if len(content) >= 2 and content[-1] == content[-2] == 7:
        return END
    return 2 + (sum((i + 1) * t for i, t in enumerate(content)) % (VOCAB - 2))


def generated_alone(prompt: Sequence[int], max_tokens: int) -> list[int]:
    """What a generation of ``prompt`` samples when the cache is right."""
    content, out = list(prompt), []
    for _ in range(max_tokens):
        token = next_token(content)
        out.append(token)
        if token == END:
            break
        content.append(token)
    return out


class _Cell:
    __slots__ = ("token",)

    def __init__(self, token: int) -> None:
        self.token = token


class GreedySampler:
    def sample(self, logits: Logits) -> int:
        return int(np.argmax(logits))

    def close(self) -> None:
        pass


@dataclass
class ToyBackend:
    """A context of sequences whose cells are shared objects; ``capacity`` distinct cells in all."""

    capacity: int = 10_000
    n_batch: int = 512
    cells: dict[int, list[_Cell]] = field(default_factory=dict)
    decodes: list[list[tuple[int, int]]] = field(default_factory=list)  # (seq, token) of each decode
    failing: bool = False
    _last: list[Logits] = field(default_factory=list)

    def used(self) -> int:
        return len({id(cell) for cells in self.cells.values() for cell in cells})

    def decode(
        self, tokens: Sequence[int], positions: Sequence[int], seqs: Sequence[int], logits: Sequence[bool]
    ) -> int:
        if self.failing:
            raise RuntimeError("the toy model broke")
        assert len(tokens) <= self.n_batch
        if self.used() + len(tokens) > self.capacity:
            return 1
        self.decodes.append(list(zip(seqs, tokens, strict=True)))
        self._last = []
        for token, position, seq, wants in zip(tokens, positions, seqs, logits, strict=True):
            cells = self.cells.setdefault(seq, [])
            assert position == len(cells), f"seq {seq}: position {position} after {len(cells)} cells"
            cells.append(_Cell(token))
            row = np.full(VOCAB, -10.0, dtype=np.float32)
            if wants:
                row[next_token([cell.token for cell in cells])] = 10.0
            self._last.append(row)
        return 0

    def logits(self, index: int) -> Logits:
        return self._last[index].copy()

    def remove(self, seq: int, start: int) -> None:
        del self.cells.setdefault(seq, [])[start:]

    def share(self, source: int, target: int, end: int) -> None:
        assert not self.cells.get(target), "sharing into a sequence that holds cells"
        self.cells[target] = list(self.cells.get(source, [])[:end])

    def sampler(self, sampling: Sampling) -> GreedySampler:
        return GreedySampler()

    def is_end(self, token: int) -> bool:
        return token == END

    def piece(self, token: int) -> bytes:
        return f" t{token}".encode()

    def close(self) -> None:
        pass

    def decoded(self) -> int:
        """Tokens evaluated so far."""
        return sum(len(step) for step in self.decodes)


def decoder(backend: ToyBackend, slots: int = 4, **kwargs: object) -> BatchDecoder:
    return BatchDecoder(lambda: backend, slots=slots, **kwargs)  # type: ignore[arg-type]


async def all_at_once(dec: BatchDecoder, start: threading.Event, *calls: Call) -> list[list[Item]]:
    """Run ``calls`` together: the decoder (whose ``before_step`` waits for ``start``) makes its first
    step only once every call is submitted, however fast the toy model is next to the event loop."""
    tasks = [asyncio.create_task(run(dec, call)) for call in calls]
    await asyncio.sleep(0)  # each task runs to its first wait: its call is submitted
    start.set()
    return list(await asyncio.gather(*tasks))


async def run(dec: BatchDecoder, call: Call) -> list[Item]:
    return [item async for item in dec.stream(call)]


def generation(tokens: Sequence[int], max_tokens: int = 12) -> Call:
    return Call(lambda: Prompt(list(tokens)), Sampling(0.0, max_tokens))


def tokens_of(items: list[Item]) -> list[int]:
    return [int(piece[2:]) for piece in items if isinstance(piece, str)]


SYSTEM = [3, 4, 5, 6, 8, 9, 10, 11]


async def test_calls_decoded_together_generate_what_each_would_alone_in_a_step_each() -> None:
    backend = ToyBackend()
    start = threading.Event()
    dec = decoder(backend, before_step=lambda: start.wait(10))
    prompts = [[*SYSTEM, 20 + n, 30 + n] for n in range(3)]
    try:
        results = await all_at_once(dec, start, *(generation(p, 12) for p in prompts))
    finally:
        dec.close()
    for prompt, items in zip(prompts, results, strict=True):
        alone = generated_alone(prompt, 12)
        assert tokens_of(items) == [t for t in alone if t != END]
        assert isinstance(items[-1], Finished) and items[-1].output_tokens == len(alone)
    longest = max(len(generated_alone(p, 12)) for p in prompts)
    # each prompt joins a step as its call arrives, then one step makes a token of every call
    assert len(backend.decodes) <= longest + 3
    assert any(sorted(seq for seq, _token in step) == [0, 1, 2] for step in backend.decodes)


async def test_a_conversation_finds_its_tokens_and_the_system_block_is_shared() -> None:
    backend = ToyBackend()
    dec = decoder(backend)
    first = [*SYSTEM, 40, 41]
    try:
        one = await run(dec, generation(first, 5))
        said = tokens_of(one)
        assert said and isinstance(one[0], Started) and one[0].cached_tokens == 0
        # the same conversation, further on: everything evaluated before is cached (the last sampled
        # token was never evaluated, so it is read with the new words)
        further = [*first, *said, 42, 43]
        before = backend.decoded()
        two = await run(dec, generation(further, 3))
        assert isinstance(two[0], Started) and two[0].cached_tokens == len(first) + len(said) - 1
        assert tokens_of(two) == [t for t in generated_alone(further, 3) if t != END]
        assert backend.decoded() - before == 3 + 2  # the last word and two new, then two tokens
        # another session with the same instructions: the system block's cells are shared, not evaluated
        other = [*SYSTEM, 50, 51]
        three = await run(dec, generation(other, 3))
        assert isinstance(three[0], Started) and three[0].cached_tokens == len(SYSTEM)
        assert tokens_of(three) == [t for t in generated_alone(other, 3) if t != END]
        assert dec.kept == 2  # both conversations stay
    finally:
        dec.close()


async def test_a_read_posts_the_logits_of_its_token_and_keeps_the_last_for_the_answer() -> None:
    backend = ToyBackend()
    dec = decoder(backend)
    words = [*SYSTEM, 60, 61]
    prompt = [*words, 62, 63]  # the answer's prompt goes on from the words
    try:
        items = await run(dec, Call(lambda: Prompt(prompt, read_at=len(words) - 1), keep_logits=True))
        reads = [item for item in items if isinstance(item, Read)]
        assert len(reads) == 1 and int(np.argmax(reads[0].logits)) == next_token(words)
        decodes = len(backend.decodes)
        answer = await run(dec, generation(prompt, 1))
        assert isinstance(answer[0], Started) and answer[0].cached_tokens == len(prompt)
        assert tokens_of(answer) == [next_token(prompt)]
        assert len(backend.decodes) == decodes  # sampled from the kept logits: no decode at all
        # kept logits are used once: the same prompt again evaluates its last token
        again = await run(dec, generation(prompt, 1))
        assert tokens_of(again) == [next_token(prompt)] and len(backend.decodes) == decodes + 1
    finally:
        dec.close()


async def test_a_prefill_reads_in_short_steps_beside_a_generation() -> None:
    backend = ToyBackend()
    start = threading.Event()
    dec = decoder(backend, before_step=lambda: start.wait(10))
    words = [*SYSTEM, *range(12, 32)]
    try:
        results = await all_at_once(
            dec, start, generation([*SYSTEM, 44, 45], 12), Call(lambda: Prompt(words, step_tokens=4))
        )
    finally:
        dec.close()
    progress = [item.cached for item in results[1] if isinstance(item, Progress)]
    assert progress[-1] == len(words)
    assert all(0 < later - earlier <= 4 for earlier, later in itertools.pairwise(progress))
    assert tokens_of(results[0]) == [t for t in generated_alone([*SYSTEM, 44, 45], 12) if t != END]
    # the generation made its tokens while the prefill read: steps held a token of each
    both = [step for step in backend.decodes if len({seq for seq, _token in step}) == 2]
    assert len(both) >= 3


async def test_a_closed_stream_stops_its_call_and_its_tokens_stay_cached() -> None:
    backend = ToyBackend()
    closed = threading.Event()

    def before_step() -> None:  # after the prompt's step and three tokens, wait for the consumer to close
        if len(backend.decodes) == 4:
            closed.wait(10)

    dec = decoder(backend, before_step=before_step)
    prompt = [*SYSTEM, 70, 71]
    try:
        said: list[int] = []
        stream = dec.stream(generation(prompt, 400))
        async for item in stream:
            if isinstance(item, str):
                said.append(int(item[2:]))
                if len(said) == 3:
                    break
        await stream.aclose()
        closed.set()
        again = await run(dec, generation([*prompt, *said], 2))
        assert isinstance(again[0], Started) and again[0].cached_tokens == len(prompt) + 2
        assert backend.decoded() <= len(prompt) + 4 + 2  # the stopped call made at most one more token
    finally:
        dec.close()


async def test_more_calls_than_slots_wait_for_one_and_each_gets_its_answer() -> None:
    backend = ToyBackend()
    dec = decoder(backend, slots=2)
    prompts = [[*SYSTEM, 80 % VOCAB + n] for n in range(5)]
    try:
        results = await asyncio.gather(*(run(dec, generation(p, 4)) for p in prompts))
    finally:
        dec.close()
    for prompt, items in zip(prompts, results, strict=True):
        assert tokens_of(items) == [t for t in generated_alone(prompt, 4) if t != END]
    assert max(len({seq for seq, _token in step}) for step in backend.decodes) <= 2


async def test_a_full_cache_drops_the_oldest_idle_conversation() -> None:
    backend = ToyBackend(capacity=40)
    dec = decoder(backend, slots=4)
    try:
        for n in range(4):  # the system block and four conversations of 11 cells cannot all stay in 40
            prompt = [*SYSTEM, *range(2 + n, 10 + n)]
            items = await run(dec, generation(prompt, 4))
            assert tokens_of(items) == [t for t in generated_alone(prompt, 4) if t != END]
        assert backend.used() <= 40 and dec.kept < 4
    finally:
        dec.close()


async def test_a_call_the_cache_cannot_hold_beside_the_others_fails_alone() -> None:
    backend = ToyBackend(capacity=40)
    dec = decoder(backend, slots=2)
    small = [*SYSTEM, 12, 13]
    big = [*SYSTEM, *range(14, 44)]
    try:
        results = await asyncio.gather(
            run(dec, generation(small, 6)), run(dec, generation(big, 6)), return_exceptions=True
        )
        assert isinstance(results[1], EngineError) and results[1].code == "context_length_exceeded"
        assert isinstance(results[0], list)
        assert tokens_of(results[0]) == [t for t in generated_alone(small, 6) if t != END]
        after = await run(dec, generation([*SYSTEM, 15], 2))  # the decoder goes on serving
        assert tokens_of(after) == [t for t in generated_alone([*SYSTEM, 15], 2) if t != END]
    finally:
        dec.close()


async def test_a_failed_decode_fails_its_calls_with_an_engine_error_and_the_next_call_runs() -> None:
    backend = ToyBackend()
    dec = decoder(backend)
    try:
        await run(dec, generation([*SYSTEM, 20], 2))
        backend.failing = True
        with pytest.raises(EngineError, match="toy model broke"):
            await run(dec, generation([*SYSTEM, 21], 2))
        backend.failing = False
        items = await run(dec, generation([*SYSTEM, 21], 2))
        assert tokens_of(items) == [t for t in generated_alone([*SYSTEM, 21], 2) if t != END]
    finally:
        dec.close()


async def test_a_prompt_that_fails_to_render_fails_only_its_call() -> None:
    backend = ToyBackend()
    dec = decoder(backend)

    def broken() -> Prompt:
        raise ValueError("no template")

    try:
        results = await asyncio.gather(
            run(dec, Call(broken, Sampling(0.0, 3))),
            run(dec, generation([*SYSTEM, 22], 3)),
            return_exceptions=True,
        )
        assert isinstance(results[0], EngineError) and "no template" in str(results[0])
        assert isinstance(results[1], list) and tokens_of(results[1])
    finally:
        dec.close()


async def test_the_hooks_see_each_step_and_which_calls_are_heads() -> None:
    backend = ToyBackend()
    reports: list[StepReport] = []
    before: list[int] = []
    start = threading.Event()

    def before_step() -> None:
        start.wait(10)
        before.append(len(backend.decodes))

    dec = decoder(backend, head_tokens=2, before_step=before_step, after_step=reports.append)
    try:
        await all_at_once(dec, start, generation([*SYSTEM, 24], 5), generation([*SYSTEM, 25], 5))
    finally:
        dec.close()
    assert before == list(range(len(backend.decodes)))  # once before every decode
    assert len(reports) == len(backend.decodes)
    assert reports[0].prompt_tokens > 0 and all(report.prompt_tokens == 0 for report in reports[2:])
    assert [index for index, _text in reports[-1].texts] == [4] * len(reports[-1].texts)
    assert reports[-1].heads == 0  # past their first two tokens


async def test_a_tail_sits_out_a_bounded_number_of_steps_while_another_answers_head_is_made() -> None:
    backend = ToyBackend()
    arrived = threading.Event()  # the decoder waits for the second call after the long answer's 8th step

    def before_step() -> None:
        if len(backend.decodes) == 8:
            arrived.wait(10)

    dec = decoder(backend, head_tokens=3, tail_skips=2, before_step=before_step)
    long_prompt = [*SYSTEM, 90 % VOCAB, 33]
    assert len(generated_alone(long_prompt, 60)) == 60  # the toy model does not end it sooner
    short = [*SYSTEM, 34, 35]
    try:
        tail_task = asyncio.create_task(run(dec, generation(long_prompt, 60)))
        while len(backend.decodes) < 8:
            await asyncio.sleep(0.001)
        head_task = asyncio.create_task(run(dec, generation(short, 3)))
        await asyncio.sleep(0)  # the head's stream submits its call
        arrived.set()
        head, tail = await head_task, await tail_task
    finally:
        dec.close()
    assert tokens_of(tail) == generated_alone(long_prompt, 60)
    assert tokens_of(head) == [t for t in generated_alone(short, 3) if t != END]
    with_head = [step for step in backend.decodes if any(seq == 1 for seq, _token in step)]
    # the head's prompt and its first two tokens (the third is sampled, never evaluated): the long answer
    # sat out two of those steps in a row, then took the third
    assert [any(seq == 0 for seq, _token in step) for step in with_head] == [False, False, True]

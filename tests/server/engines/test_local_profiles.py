"""Local LLM profiles: the 1.5B's template fix, and the routed tool-call recipe (no model needed).

The routing tests replace the engine's one model call (``_generate``) with a script keyed by the system
prompt, so they check exactly which passes run, with which prompt, tools and sampling, and what the user
gets, for each thing the model may write.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import pytest

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
from voxpipe.server.engines.local.llm import LlamaLLMEngine
from voxpipe.server.engines.local.profiles import (
    LLM_PROFILES,
    QWEN_TOOL_EXAMPLE_FIX,
    ROUTING_INSTRUCTIONS,
    fix_template,
)

# The tools part of Qwen2.5-Coder-1.5B-Instruct's GGUF chat template (tokenizer.chat_template), verbatim.
QWEN_1_5B_TOOLS_TEMPLATE = (
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {{- messages[0]['content'] }}\n"
    '    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n'
    'You are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}\n'
    "    {%- for tool in tools %}\n"
    '        {{- "\\n" }}\n'
    "        {{- tool | tojson }}\n"
    "    {%- endfor %}\n"
    '    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments '
    "within <tool_call></tool_call> XML tags:\\n<tool_call>\\n"
    '{{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}}\\n</tool_call><|im_end|>\\n" }}\n'
    "{%- endif %}"
)

SYSTEM = "You are a friendly voice assistant. Answer in one short sentence."
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


def render(template: str) -> str:
    jinja2 = pytest.importorskip("jinja2")
    environment = jinja2.Environment()
    environment.filters["tojson"] = json.dumps
    return environment.from_string(template).render(
        messages=[{"role": "system", "content": "Be brief."}],
        tools=[{"type": "function", "function": {"name": "get_weather"}}],
    )


def example_call(prompt: str) -> str:
    return prompt.split("<tool_call>\n", 1)[1].split("\n</tool_call>", 1)[0]


def test_the_1_5b_template_shows_doubled_braces_and_the_fix_makes_them_json() -> None:
    assert example_call(render(QWEN_1_5B_TOOLS_TEMPLATE)).startswith("{{")  # what the model copied
    fixed = fix_template(QWEN_1_5B_TOOLS_TEMPLATE, (QWEN_TOOL_EXAMPLE_FIX,))
    example = example_call(render(fixed))
    assert example == '{"name": <function-name>, "arguments": <args-json-object>}'
    assert fixed.replace(QWEN_TOOL_EXAMPLE_FIX.right, "") == QWEN_1_5B_TOOLS_TEMPLATE.replace(
        QWEN_TOOL_EXAMPLE_FIX.wrong, ""
    )  # nothing else changed


def test_a_fix_that_does_not_apply_leaves_the_template_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    good = fix_template(QWEN_1_5B_TOOLS_TEMPLATE, (QWEN_TOOL_EXAMPLE_FIX,))
    with caplog.at_level(logging.WARNING):
        assert fix_template(good, (QWEN_TOOL_EXAMPLE_FIX,)) == good
    assert "not applied" in caplog.text


def test_profiles_route_only_the_1_5b() -> None:
    assert LLM_PROFILES["qwen2.5-coder-1.5b-instruct"].routed
    assert LLM_PROFILES["qwen2.5-coder-1.5b-instruct"].template_fixes == (QWEN_TOOL_EXAMPLE_FIX,)
    assert not LLM_PROFILES["qwen2.5-coder-0.5b-instruct"].routed
    assert not LLM_PROFILES["smollm2-135m-instruct"].tool_calls


@dataclass
class Pass:
    """One call of the model as the engine made it."""

    instructions: str
    tools: tuple[str, ...]
    forced: str | None
    temperature: float
    stopped_early: bool
    max_tokens: int | None


Script = dict[str, list[str]]  # system prompt -> the pieces the model writes with it


def scripted(engine: LlamaLLMEngine, script: Script) -> list[Pass]:
    """Replace the model call of ``engine``; returns the list the passes are recorded in."""
    passes: list[Pass] = []

    async def generate(
        request: LLMRequest,
        tools: Sequence[FunctionTool],
        forced: str | None,
        temperature: float,
        *,
        until: Callable[[str], bool] | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str | Usage]:
        record = Pass(
            request.instructions, tuple(t.name for t in tools), forced, temperature, False, max_tokens
        )
        passes.append(record)
        text = ""
        pieces = script[request.instructions]
        for piece in pieces:
            yield piece
            text += piece
            if until is not None and until(text):
                record.stopped_early = piece is not pieces[-1]
                break
        yield Usage(input_tokens=100, output_tokens=len(text.split()) or 1, cached_tokens=90)

    engine._generate = generate  # type: ignore[method-assign]
    return passes


async def run(engine: LlamaLLMEngine, request: LLMRequest) -> list[LLMChunk]:
    return [chunk async for chunk in engine.stream(request)]


def ask(text: str, **kwargs: object) -> LLMRequest:
    return LLMRequest(SYSTEM, [LLMMessage("user", text)], temperature=0.8, **kwargs)  # type: ignore[arg-type]


def words(chunks: list[LLMChunk]) -> str:
    return "".join(c.text for c in chunks if isinstance(c, TextDelta))


@pytest.fixture
async def routed() -> object:
    engine = LlamaLLMEngine("qwen2.5-coder-1.5b-instruct")  # loads nothing until a real call
    yield engine
    await engine.aclose()


CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
ANSWER = ["It is", " sunny", " there."]


async def test_an_accepted_call_comes_from_the_plain_prompt_alone(routed: LlamaLLMEngine) -> None:
    passes = scripted(routed, {ROUTING_INSTRUCTIONS: [CALL[:12], CALL[12:]], SYSTEM: ANSWER})
    chunks = await run(routed, ask("What's the weather like in Paris today?", tools=[WEATHER, TIMER]))
    calls = [c for c in chunks if isinstance(c, ToolCall)]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert words(chunks) == ""
    assert passes == [Pass(ROUTING_INSTRUCTIONS, ("get_weather", "set_timer"), None, 0.0, False, 160)]
    assert isinstance(chunks[-1], Usage) and chunks[-1].input_tokens == 100


@pytest.mark.parametrize(
    ("question", "written", "why"),
    [
        (
            "Tell me a joke.",
            '<tool_call>\n{"name": "tell_joke", "arguments": {}}\n</tool_call>',
            "undeclared",
        ),
        (
            "How many days are in a week?",
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "London"}}\n</tool_call>',
            "city not in the user's words",
        ),
        (
            "Set a timer please.",
            '<tool_call>\n{"name": "set_timer", "arguments": {"minutes": "ten"}}\n</tool_call>',
            "arguments do not validate",
        ),
        (
            "What's the weather in Paris?",
            '<tool_call>\n{{"name": "get_weather", "arguments": {"city": "Paris"}}}\n</tool_call>',
            "the template typo copied: not JSON",
        ),
    ],
)
async def test_a_call_the_guard_refuses_becomes_the_spoken_answer(
    routed: LlamaLLMEngine, question: str, written: str, why: str
) -> None:
    passes = scripted(routed, {ROUTING_INSTRUCTIONS: [written], SYSTEM: ANSWER})
    chunks = await run(routed, ask(question, tools=[WEATHER, TIMER]))
    assert not any(isinstance(c, ToolCall) for c in chunks), why
    assert words(chunks) == "It is sunny there."
    assert [(p.instructions, p.tools) for p in passes] == [
        (ROUTING_INSTRUCTIONS, ("get_weather", "set_timer")),
        (SYSTEM, ()),  # the voice prompt, and no tools
    ]
    assert passes[1].temperature == 0.2  # the answer cap, not the greedy routing
    usage = chunks[-1]
    assert isinstance(usage, Usage) and usage.input_tokens == 200  # both passes are counted


async def test_words_from_the_routing_pass_stop_it_and_are_never_spoken(routed: LlamaLLMEngine) -> None:
    routing_words = ["Paris", " is the capital", " of France."]
    passes = scripted(routed, {ROUTING_INSTRUCTIONS: routing_words, SYSTEM: ["Paris."]})
    chunks = await run(routed, ask("What is the capital of France?", tools=[WEATHER]))
    assert words(chunks) == "Paris."
    assert passes[0].stopped_early  # the first piece was enough to know it is no call
    assert [p.instructions for p in passes] == [ROUTING_INSTRUCTIONS, SYSTEM]


async def test_without_tools_there_is_no_routing_pass(routed: LlamaLLMEngine) -> None:
    passes = scripted(routed, {SYSTEM: ANSWER})
    assert words(await run(routed, ask("How are you?"))) == "It is sunny there."
    assert [(p.instructions, p.tools) for p in passes] == [(SYSTEM, ())]


async def test_after_a_function_result_the_answer_reads_it_without_routing(routed: LlamaLLMEngine) -> None:
    passes = scripted(routed, {SYSTEM: ANSWER})
    history = [
        LLMMessage("user", "Weather in Paris?"),
        FunctionCall("c1", "get_weather", '{"city": "Paris"}'),
        FunctionCallOutput("c1", '{"sky": "sunny"}'),
    ]
    chunks = await run(routed, LLMRequest(SYSTEM, history, tools=[WEATHER]))
    assert words(chunks) == "It is sunny there."
    assert [(p.instructions, p.tools) for p in passes] == [(SYSTEM, ())]


async def test_a_required_call_uses_the_plain_prompt_and_the_grammar(routed: LlamaLLMEngine) -> None:
    passes = scripted(
        routed, {ROUTING_INSTRUCTIONS: ['{"name": "get_weather", "arguments": {"city": "Rome"}}']}
    )
    chunks = await run(routed, ask("Tell me about Rome.", tools=[WEATHER], tool_choice="get_weather"))
    assert [c.name for c in chunks if isinstance(c, ToolCall)] == ["get_weather"]
    assert [(p.instructions, p.forced) for p in passes] == [(ROUTING_INSTRUCTIONS, "get_weather")]


async def test_the_0_5b_keeps_one_inline_pass_with_the_session_prompt() -> None:
    engine = LlamaLLMEngine("qwen2.5-coder-0.5b-instruct")
    try:
        passes = scripted(engine, {SYSTEM: [CALL]})
        chunks = await run(engine, ask("What's the weather like in Paris today?", tools=[WEATHER]))
        assert [c.name for c in chunks if isinstance(c, ToolCall)] == ["get_weather"]
        assert [(p.instructions, p.tools) for p in passes] == [(SYSTEM, ("get_weather",))]
    finally:
        await engine.aclose()

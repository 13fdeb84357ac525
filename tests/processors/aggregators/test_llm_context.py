"""LLMContext: messages, tools, system, function-call shapes, and logging without media."""

from __future__ import annotations

import json

import pytest

from voxpipe.adapters.schemas.function_schema import FunctionSchema
from voxpipe.adapters.schemas.tools_schema import ToolsSchema
from voxpipe.errors import VoxpipeUsageError
from voxpipe.processors.aggregators import LLMContext, OpenAILLMContext, openai_llm_context
from voxpipe.processors.aggregators.llm_context import FUNCTION_CALL_CANCELLED, FUNCTION_CALL_IN_PROGRESS


def test_spec_context_management_arguments_work() -> None:
    # The spec's sample, on the base class the realtime context subclasses.
    context = LLMContext(messages=[], tools=[], system="You are a helpful assistant")
    assert context.messages == []
    assert context.tools == []
    assert context.system == "You are a helpful assistant"
    assert context.get_system_instructions() == "You are a helpful assistant"


def test_pipecat_names_are_the_same_class() -> None:
    assert OpenAILLMContext is LLMContext
    assert openai_llm_context.OpenAILLMContext is LLMContext


def test_messages_are_copied_in_and_edited_in_place() -> None:
    given = [{"role": "user", "content": "Hi"}]
    context = LLMContext(given)
    context.add_message({"role": "assistant", "content": "Hello"})
    assert len(given) == 1
    assert context.get_messages() is context.messages
    context.add_messages([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    assert [m["content"] for m in context.messages] == ["Hi", "Hello", "a", "b"]
    live = context.messages
    context.set_messages([{"role": "system", "content": "s"}])
    assert live == [{"role": "system", "content": "s"}]
    assert LLMContext.from_messages(given).messages == given


def test_invalid_messages_are_refused_whole() -> None:
    context = LLMContext()
    with pytest.raises(VoxpipeUsageError, match="'role'"):
        context.add_message({"content": "no role"})
    with pytest.raises(VoxpipeUsageError, match="'role'"):
        context.add_messages([{"role": "user", "content": "ok"}, "text"])  # type: ignore[list-item]
    assert context.messages == []
    with pytest.raises(VoxpipeUsageError, match="list of message dicts"):
        context.set_messages({"role": "user"})  # type: ignore[arg-type]


def test_tools_and_tool_choice() -> None:
    tools = ToolsSchema(standard_tools=[FunctionSchema("f", "", {}, [])])
    context = LLMContext(tools=tools, tool_choice="auto")
    assert context.tools is tools and context.tool_choice == "auto"
    context.set_tools([{"type": "function", "name": "g"}])
    context.set_tool_choice({"type": "function", "name": "g"})
    context.set_tool_choice(None)
    with pytest.raises(VoxpipeUsageError, match="tools must be"):
        context.set_tools("f")  # type: ignore[arg-type]
    with pytest.raises(VoxpipeUsageError, match="tool_choice"):
        context.set_tool_choice("sometimes")
    with pytest.raises(VoxpipeUsageError, match="system"):
        LLMContext(system=3)  # type: ignore[arg-type]


def test_system_instructions_fall_back_to_the_first_system_message() -> None:
    assert LLMContext([{"role": "system", "content": "Be brief."}]).get_system_instructions() == "Be brief."
    parts = [{"role": "developer", "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]}]
    assert LLMContext(parts).get_system_instructions() == "AB"
    assert LLMContext([{"role": "user", "content": "Hi"}]).get_system_instructions() is None


def test_function_call_then_result_keeps_openai_shapes() -> None:
    context = LLMContext([{"role": "user", "content": "Weather in Paris?"}])
    context.add_function_call("get_weather", "call_1", {"location": "Paris"})
    assert context.messages[1:] == [
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "content": FUNCTION_CALL_IN_PROGRESS, "tool_call_id": "call_1"},
    ]
    context.add_function_call("get_weather", "call_1", {"location": "Paris"})  # recorded once
    assert len(context.messages) == 3
    context.add_function_call_result("call_1", {"sky": "clear", "temp_c": 21})
    assert json.loads(context.messages[2]["content"]) == {"sky": "clear", "temp_c": 21}
    context.add_function_call_result("call_1", "plain text")
    assert context.messages[2]["content"] == "plain text"


def test_result_without_placeholder_goes_right_after_its_call() -> None:
    context = LLMContext()
    context.add_function_call("a", "1", {}, result_placeholder=None)
    context.add_function_call("b", "2", "{}", result_placeholder=None)
    context.add_message({"role": "user", "content": "later"})
    context.add_function_call_result("1", "r1")
    roles = [(m["role"], m.get("tool_call_id")) for m in context.messages]
    assert roles == [("assistant", None), ("tool", "1"), ("assistant", None), ("user", None)]
    context.add_function_call_result("2", "r2")
    assert context.messages[3] == {"role": "tool", "content": "r2", "tool_call_id": "2"}


def test_result_of_an_unrecorded_call() -> None:
    context = LLMContext()
    with pytest.raises(VoxpipeUsageError, match="pass function_name"):
        context.add_function_call_result("x", 1)
    context.add_function_call_result("x", 1, function_name="f", arguments={"a": 1})
    assert context.has_function_call("x")
    assert context.messages[1] == {"role": "tool", "content": "1", "tool_call_id": "x"}
    assert FUNCTION_CALL_CANCELLED == "CANCELLED"


def test_messages_for_logging_never_hold_media_and_cut_long_text() -> None:
    audio_b64 = "UklGR" + "A" * 5000
    context = LLMContext(
        [
            {"role": "user", "content": "x" * 1000},
            {
                "role": "user",
                "content": [
                    {"type": "input_audio", "input_audio": {"data": audio_b64, "format": "wav"}},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "B" * 500}},
                    {"type": "text", "text": "what is this?"},
                ],
            },
            {"role": "user", "content": [{"type": "input_audio", "audio": audio_b64, "transcript": "hi"}]},
            {"role": "user", "content": b"\x00\x01" * 100},
        ]
    )
    logged = context.get_messages_for_logging()
    text = json.dumps(logged)
    assert "AAAA" not in text and "BBBB" not in text and "\\u0000" not in text
    assert logged[0]["content"].endswith("(1000 chars)") and len(logged[0]["content"]) < 300
    assert logged[1]["content"][2]["text"] == "what is this?"
    assert logged[2]["content"][0]["transcript"] == "hi"
    assert logged[3]["content"] == "<200 bytes>"
    assert context.messages[0]["content"] == "x" * 1000  # the context itself is untouched

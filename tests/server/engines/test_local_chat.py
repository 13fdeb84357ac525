"""Rendering requests for the local LLM's chat template (no model needed)."""

from __future__ import annotations

import pytest

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines.base import FunctionCall, FunctionCallOutput, FunctionTool, LLMMessage, LLMRequest
from voxpipe.server.engines.local.chat import call_schema, render_inputs, tools_in_play

TOOL = FunctionTool(
    "get_weather", "Weather.", {"type": "object", "properties": {"location": {"type": "string"}}}
)
OTHER = FunctionTool("get_time", "Time.", {"type": "object", "properties": {}})


def test_prefix_is_the_same_every_turn() -> None:
    one = LLMRequest("Be brief.", [LLMMessage("user", "Hi")], tools=[TOOL])
    two = LLMRequest(
        "Be brief.",
        [*one.messages, LLMMessage("assistant", "Hello!"), LLMMessage("user", "Bye")],
        tools=[TOOL],
    )
    messages_one, tools_one = render_inputs(one, tools_in_play(one))
    messages_two, tools_two = render_inputs(two, tools_in_play(two))
    assert tools_one == tools_two
    assert messages_one[0] == messages_two[0] == {"role": "system", "content": "Be brief."}
    assert messages_two[: len(messages_one)] == messages_one


def test_calls_render_as_tool_messages_while_tools_are_shown() -> None:
    request = LLMRequest(
        "", [LLMMessage("user", "Weather?"), FunctionCall("c1", "get_weather", '{"location": "Paris"}'),
             LLMMessage("user", "And now?")], tools=[TOOL],
    )  # fmt: skip
    messages, tools = render_inputs(request, tools_in_play(request))
    assert tools and messages[1]["tool_calls"][0]["function"]["arguments"] == {"location": "Paris"}


def test_after_a_function_result_tools_are_hidden_and_the_result_is_a_note() -> None:
    request = LLMRequest(
        "Be brief.",
        [LLMMessage("user", "Weather?"), FunctionCall("c1", "get_weather", '{"location": "Paris"}'),
         FunctionCallOutput("c1", '{"sky": "sunny"}')],
        tools=[TOOL],
    )  # fmt: skip
    assert tools_in_play(request) == ()
    messages, tools = render_inputs(request, ())
    assert tools is None
    assert messages[-1]["role"] == "system" and "sunny" in messages[-1]["content"]
    assert "get_weather" in messages[-1]["content"]


def test_tool_choice_none_hides_tools_and_unknown_name_is_misuse() -> None:
    assert tools_in_play(LLMRequest(tools=[TOOL], tool_choice="none")) == ()
    with pytest.raises(VoxpipeUsageError, match="set_timer"):
        tools_in_play(LLMRequest(tools=[TOOL], tool_choice="set_timer"))


def test_skip_leaves_out_the_oldest_items_but_keeps_instructions() -> None:
    request = LLMRequest(
        "Sys.", [LLMMessage("user", "a"), LLMMessage("assistant", "b"), LLMMessage("user", "c")]
    )
    messages, _ = render_inputs(request, (), skip=2)
    assert [m["content"] for m in messages] == ["Sys.", "c"]


def test_empty_request_still_has_a_message() -> None:
    messages, _ = render_inputs(LLMRequest(), ())
    assert messages == [{"role": "user", "content": ""}]


def test_call_schema_forces_name_and_arguments() -> None:
    named = call_schema([TOOL, OTHER], "get_weather")
    assert named["properties"]["name"] == {"enum": ["get_weather"]}
    assert len(call_schema([TOOL, OTHER], "required")["anyOf"]) == 2

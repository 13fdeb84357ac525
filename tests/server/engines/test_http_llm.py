"""The HTTP LLM engine against a real chat-completions server on loopback: text, tool calls, usage, history.

Each test runs a scripted backend (``ChatBackend``) under uvicorn and streams through ``HTTPLLMEngine``;
failures (statuses, timeouts, cancellation, key redaction) are in ``test_http_llm_failures``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines.base import (
    FunctionCall,
    FunctionCallOutput,
    LLMMessage,
    LLMRequest,
    TextDelta,
    ToolCall,
    Usage,
)
from voxpipe.server.engines.http import HTTPLLMEngine

from .test_http_support import (
    KEY,
    QUESTION,
    USAGE,
    WEATHER,
    ChatBackend,
    backend_and_engine,
    collect,
    serve,
    sse,
    sse_chunk,
)


async def test_streams_text_deltas_then_usage_and_sends_the_request_fields() -> None:
    backend = ChatBackend(
        [sse_chunk("Sunny"), sse_chunk(" and"), sse_chunk(" warm."), sse_chunk(finish_reason="stop"), USAGE]
    )
    request = LLMRequest(
        instructions="Be brief.",
        messages=[
            LLMMessage("user", "Hi"),
            LLMMessage("assistant", "Hello!"),
            LLMMessage("user", "Weather?"),
        ],
        tools=[WEATHER],
        temperature=0.3,
        max_output_tokens=64,
    )
    async with backend_and_engine(backend) as llm:
        chunks = await collect(llm, request)
    assert chunks == [TextDelta("Sunny"), TextDelta(" and"), TextDelta(" warm."), Usage(21, 3)]
    body = backend.bodies[0]
    assert body["model"] == "m"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.3
    assert body["max_tokens"] == 64
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Weather?"},
    ]
    assert body["tools"] == [{"type": "function", "function": {"name": "get_weather", **_tool_fields()}}]
    assert body["tool_choice"] == "auto"
    assert backend.auth == [f"Bearer {KEY}"]


def _tool_fields() -> dict[str, Any]:
    return {"description": WEATHER.description, "parameters": dict(WEATHER.parameters)}


async def test_tool_calls_split_across_chunks_come_out_whole_after_the_finish() -> None:
    backend = ChatBackend(
        [
            sse_chunk(tool_calls=[{"index": 0, "id": "call_a", "type": "function",
                                   "function": {"name": "get_weather", "arguments": ""}}]),
            sse_chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"ci'}}]),
            sse_chunk(tool_calls=[{"index": 1, "id": "call_b", "type": "function",
                                   "function": {"name": "get_weather", "arguments": '{"city": "Ro'}}]),
            sse_chunk(tool_calls=[{"index": 0, "function": {"arguments": 'ty": "Paris"}'}}]),
            sse_chunk(tool_calls=[{"index": 1, "function": {"arguments": 'me"}'}}]),
            sse_chunk(finish_reason="tool_calls"),
            USAGE,
        ]
    )  # fmt: skip
    async with backend_and_engine(backend) as llm:
        chunks = await collect(llm)
    assert chunks == [
        ToolCall("call_a", "get_weather", '{"city": "Paris"}'),
        ToolCall("call_b", "get_weather", '{"city": "Rome"}'),
        Usage(21, 3),
    ]


async def test_a_name_and_id_repeated_in_every_piece_are_taken_once() -> None:
    """llama.cpp's server repeats the id and the whole name in every streamed piece of a call."""
    pieces = ['{"city"', ': "Os', 'lo"}']
    backend = ChatBackend(
        [
            sse_chunk(
                tool_calls=[{"index": 0, "id": "call_x", "function": {"name": "get_weather", "arguments": p}}]
            )
            for p in pieces
        ]
        + [sse_chunk(finish_reason="tool_calls")]
    )
    async with backend_and_engine(backend) as llm:
        chunks = await collect(llm)
    assert chunks[0] == ToolCall("call_x", "get_weather", '{"city": "Oslo"}')
    assert isinstance(chunks[-1], Usage)


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("delete_everything", '{"city": "Paris"}'),  # not declared
        ("get_weather", '{"city": "Par'),  # arguments cut off: not JSON
        ("get_weather", '["Paris"]'),  # JSON but not an object
        ("get_weather", '{"town": "Paris"}'),  # does not validate: city is required
    ],
)
async def test_an_undeclared_tool_or_bad_arguments_never_come_out_as_a_call(
    name: str, arguments: str
) -> None:
    backend = ChatBackend(
        [
            sse_chunk("Let me see."),
            sse_chunk(
                tool_calls=[{"index": 0, "id": "c1", "function": {"name": name, "arguments": arguments}}]
            ),
            sse_chunk(finish_reason="tool_calls"),
            USAGE,
        ]
    )
    async with backend_and_engine(backend) as llm:
        chunks = await collect(llm)
    assert chunks == [TextDelta("Let me see."), Usage(21, 3)]


async def test_tool_choice_none_lets_no_call_out_and_a_forced_tool_is_sent_by_name() -> None:
    call = sse_chunk(
        tool_calls=[
            {"index": 0, "id": "c", "function": {"name": "get_weather", "arguments": '{"city": "Nice"}'}}
        ]
    )
    backend = ChatBackend([call, sse_chunk(finish_reason="tool_calls")])
    async with backend_and_engine(backend) as llm:
        none = await collect(llm, LLMRequest(messages=QUESTION.messages, tools=[WEATHER], tool_choice="none"))
        forced = await collect(
            llm, LLMRequest(messages=QUESTION.messages, tools=[WEATHER], tool_choice="get_weather")
        )
        with pytest.raises(VoxpipeUsageError, match="get_time"):
            await collect(
                llm, LLMRequest(messages=QUESTION.messages, tools=[WEATHER], tool_choice="get_time")
            )
    assert not [c for c in none if isinstance(c, ToolCall)]
    assert backend.bodies[0]["tool_choice"] == "none"
    assert "tools" in backend.bodies[0]  # the prefix stays the same for a prompt cache
    assert forced[0] == ToolCall("c", "get_weather", '{"city": "Nice"}')
    assert backend.bodies[1]["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert len(backend.bodies) == 2  # the bad tool_choice never reached the server


async def test_without_usage_from_the_server_it_is_estimated() -> None:
    backend = ChatBackend(
        [sse_chunk("a"), sse_chunk("b"), sse_chunk("c"), sse_chunk(finish_reason="stop"), sse("[DONE]")]
    )
    async with backend_and_engine(backend) as llm:
        chunks = await collect(llm)
    usage = chunks[-1]
    assert isinstance(usage, Usage)
    assert usage.output_tokens == 3
    assert usage.input_tokens > 0


async def test_history_with_calls_maps_to_assistant_tool_calls_and_tool_messages() -> None:
    backend = ChatBackend([sse_chunk("ok"), sse_chunk(finish_reason="stop")])
    request = LLMRequest(
        messages=[
            LLMMessage("user", "Weather in Paris and Rome?"),
            FunctionCall("c1", "get_weather", '{"city": "Paris"}'),
            FunctionCall("c2", "get_weather", '{"city": "Rome"}'),
            FunctionCallOutput("c1", '{"sky": "sunny"}'),
            FunctionCall("c3", "get_weather", '{"city": "Oslo"}'),
            LLMMessage("user", "Never mind Oslo."),  # c2 and c3 were never answered
            FunctionCallOutput("c3", "late"),
        ],
        tools=[WEATHER],
    )
    async with backend_and_engine(backend) as llm:
        await collect(llm, request)
    messages = backend.bodies[0]["messages"]
    assert [m["role"] for m in messages] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
        "tool",
        "user",
        "system",
    ]
    assert [c["id"] for c in messages[1]["tool_calls"]] == ["c1", "c2"]
    assert messages[1]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "c1", "content": '{"sky": "sunny"}'}
    assert messages[3]["tool_call_id"] == "c2"
    assert "no result" in messages[3]["content"]
    assert messages[5]["tool_call_id"] == "c3"
    assert "late" in messages[7]["content"]


async def test_a_server_that_ignores_stream_answers_in_one_piece() -> None:
    async def endpoint(request: Request) -> Response:
        message = {
            "role": "assistant",
            "content": "Hi there.",
            "tool_calls": [
                {
                    "id": "c9",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Lima"}'},
                }
            ],
        }
        usage = {"prompt_tokens": 5, "completion_tokens": 4}
        return JSONResponse(
            {"choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}], "usage": usage}
        )

    async with (
        serve([Route("/v1/chat/completions", endpoint, methods=["POST"])]) as url,
        HTTPLLMEngine(url, "m") as llm,
    ):
        chunks = await collect(llm)
    assert chunks == [TextDelta("Hi there."), ToolCall("c9", "get_weather", '{"city": "Lima"}'), Usage(5, 4)]


async def test_warm_up_logs_a_rejected_key_instead_of_raising(caplog: pytest.LogCaptureFixture) -> None:
    async def models(request: Request) -> Response:
        return JSONResponse({"error": {"message": "bad key"}}, status_code=401)

    async with serve([Route("/v1/models", models)]) as url, HTTPLLMEngine(url, "m", api_key=KEY) as llm:
        await llm.warm_up()
    assert any(
        "VOXPIPE_LLM_API_KEY" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
    )


def test_a_base_url_that_is_not_http_is_refused_without_showing_credentials() -> None:
    with pytest.raises(VoxpipeUsageError, match="VOXPIPE_LLM_BASE_URL") as info:
        HTTPLLMEngine("ftp://user:pw@host/v1", "m")
    assert "pw" not in str(info.value)


def test_request_body_is_plain_json() -> None:
    llm = HTTPLLMEngine(
        "http://127.0.0.1:9/v1", "m", extra_body={"repeat_penalty": 1.0}, max_output_tokens=100
    )
    body = llm.request_body(LLMRequest(messages=[LLMMessage("user", "x")]))
    assert json.loads(json.dumps(body)) == body
    assert body["repeat_penalty"] == 1.0
    assert body["max_tokens"] == 100
    assert "tools" not in body

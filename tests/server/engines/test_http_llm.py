"""The HTTP LLM engine against a real chat-completions server on loopback: text, tools, usage, errors.

Each test runs a scripted backend (``ChatBackend``) under uvicorn and streams through ``HTTPLLMEngine``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import traceback
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from voxpipe.errors import ConnectionFailedError, ServerError, VoxpipeUsageError
from voxpipe.server.engines.base import (
    EngineError,
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
from voxpipe.server.engines.http import (
    BackendConnectionError,
    BackendError,
    BackendProtocolError,
    BackendStatusError,
    BackendTimeoutError,
    HTTPLLMEngine,
)

from .test_http_support import KEY, free_port, serve, sse, sse_chunk

STALL = b"<stall>"
WEATHER = FunctionTool(
    name="get_weather",
    description="Weather of a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
QUESTION = LLMRequest(
    instructions="Be brief.",
    messages=[LLMMessage("user", "What is the weather in Paris?")],
    tools=[WEATHER],
)
USAGE = sse(
    {"id": "c", "choices": [], "usage": {"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24}}
)


class ChatBackend:
    """A chat-completions endpoint that streams ``events`` (``STALL`` waits forever) and records requests.

    Args:
        events: SSE bytes to send, in order.
        forever: after ``events``, keep streaming a word every 20 ms until the client goes away.
        status / error: answer with this HTTP status and JSON body instead of streaming.
    """

    def __init__(
        self,
        events: Sequence[bytes] = (),
        *,
        forever: bool = False,
        status: int = 200,
        error: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.events = list(events)
        self.forever = forever
        self.status = status
        self.error = error
        self.headers = headers or {}
        self.bodies: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        self.sent = 0
        self.closed = asyncio.Event()

    @property
    def routes(self) -> list[Route]:
        return [Route("/v1/chat/completions", self._endpoint, methods=["POST"])]

    async def _endpoint(self, request: Request) -> Response:
        self.bodies.append(await request.json())
        self.auth.append(request.headers.get("authorization"))
        if self.status != 200:
            return JSONResponse(self.error, status_code=self.status, headers=self.headers)
        return StreamingResponse(self._stream(), media_type="text/event-stream")

    async def _stream(self) -> AsyncIterator[bytes]:
        try:
            for event in self.events:
                if event == STALL:
                    await asyncio.sleep(3600)
                yield event
                self.sent += 1
            while self.forever:
                yield sse_chunk(" word")
                self.sent += 1
                await asyncio.sleep(0.02)
        finally:
            self.closed.set()


@contextlib.asynccontextmanager
async def backend_and_engine(backend: ChatBackend, **options: Any) -> AsyncIterator[HTTPLLMEngine]:
    async with serve(backend.routes) as url, HTTPLLMEngine(url, "m", api_key=KEY, **options) as llm:
        yield llm


async def collect(llm: HTTPLLMEngine, request: LLMRequest = QUESTION) -> list[LLMChunk]:
    return [chunk async for chunk in llm.stream(request)]


def text_of(chunks: list[LLMChunk]) -> str:
    return "".join(c.text for c in chunks if isinstance(c, TextDelta))


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


async def test_401_is_a_fatal_error_that_says_to_set_the_key() -> None:
    backend = ChatBackend(
        status=401, error={"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
    )
    async with backend_and_engine(backend) as llm:
        with pytest.raises(BackendStatusError) as info:
            await collect(llm)
    error = info.value
    assert isinstance(error, EngineError)
    assert isinstance(error, ServerError)
    assert (error.status, error.code, error.retryable, error.recoverable) == (
        401,
        "backend_unauthorized",
        False,
        False,
    )
    assert "VOXPIPE_LLM_API_KEY" in str(error)
    assert "Incorrect API key provided" in str(error)


@pytest.mark.parametrize(
    ("status", "code"),
    [(429, "backend_rate_limited"), (500, "backend_server_error"), (503, "backend_server_error")],
)
async def test_rate_limits_and_server_errors_are_retryable(status: int, code: str) -> None:
    backend = ChatBackend(status=status, error={"error": {"message": "busy"}}, headers={"Retry-After": "2"})
    async with backend_and_engine(backend) as llm:
        with pytest.raises(BackendStatusError) as info:
            await collect(llm)
    assert (info.value.code, info.value.retryable, info.value.recoverable) == (code, True, True)
    assert "retry after 2 s" in str(info.value)


async def test_404_says_to_check_the_base_url_and_model() -> None:
    async with serve([]) as url, HTTPLLMEngine(url, "m") as llm:
        with pytest.raises(BackendStatusError, match=r"VOXPIPE_LLM_BASE_URL.*/v1.*'m'") as info:
            await collect(llm)
    assert info.value.recoverable is False


@pytest.mark.parametrize(
    "events", [[STALL], [sse_chunk("Hel"), STALL]], ids=["before-first-token", "mid-stream"]
)
async def test_a_stalled_server_is_a_timeout(events: list[bytes]) -> None:
    backend = ChatBackend(events)
    async with backend_and_engine(backend, timeout_s=0.3) as llm:
        started = time.perf_counter()
        with pytest.raises(BackendTimeoutError, match=r"sent nothing for 0\.3 s") as info:
            await collect(llm)
        elapsed = time.perf_counter() - started
    assert isinstance(info.value, TimeoutError)
    assert info.value.retryable is True
    assert elapsed < 5


async def test_an_unreachable_server_is_a_connection_error() -> None:
    async with HTTPLLMEngine(f"http://127.0.0.1:{free_port()}/v1", "m") as llm:
        with pytest.raises(BackendConnectionError, match="VOXPIPE_LLM_BASE_URL") as info:
            await collect(llm)
    assert isinstance(info.value, ConnectionFailedError)
    assert info.value.retryable is True


async def test_closing_the_stream_mid_answer_closes_the_connection_promptly() -> None:
    backend = ChatBackend([sse_chunk("Once")], forever=True)
    async with backend_and_engine(backend) as llm:
        stream = llm.stream(QUESTION)
        received = [await anext(stream) for _ in range(3)]
        started = time.perf_counter()
        await stream.aclose()  # type: ignore[attr-defined]
        closing_s = time.perf_counter() - started
        await asyncio.wait_for(backend.closed.wait(), 2)  # the server saw the client go away
        sent = backend.sent
        await asyncio.sleep(0.1)
        assert backend.sent == sent  # and stopped streaming
    assert received[0] == TextDelta("Once")
    assert closing_s < 0.2, f"closing took {closing_s * 1000:.0f} ms"


async def test_cancelling_the_consuming_task_closes_the_connection() -> None:
    backend = ChatBackend([sse_chunk("Once")], forever=True)
    got: list[LLMChunk] = []

    async def consume(llm: HTTPLLMEngine) -> None:
        async with contextlib.aclosing(llm.stream(QUESTION)) as stream:  # type: ignore[type-var]
            async for chunk in stream:
                got.append(chunk)

    async with backend_and_engine(backend) as llm:
        task = asyncio.create_task(consume(llm))
        while len(got) < 3:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(backend.closed.wait(), 2)


async def test_the_api_key_is_in_no_log_repr_or_exception(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ok = ChatBackend([sse_chunk("Hi"), sse_chunk(finish_reason="stop"), USAGE])
    echo = ChatBackend(status=401, error={"error": {"message": f"Incorrect API key provided: {KEY}"}})
    async with backend_and_engine(ok) as llm:
        await collect(llm)
        texts = [repr(llm), repr(llm._client), repr(llm._client.config)]
    async with (
        backend_and_engine(echo) as llm,
        backend_and_engine(ChatBackend([STALL]), timeout_s=0.2) as slow,
    ):
        for engine in (llm, slow):
            with pytest.raises(BackendError) as info:
                await collect(engine)
            texts.append("".join(traceback.format_exception(info.value)))
            texts.append(repr(info.value))
    assert ok.auth == [f"Bearer {KEY}"]  # the key was used...
    assert "***" in texts[3]  # ...the echoed one was masked...
    texts += [record.getMessage() for record in caplog.records]
    assert any(
        record.name.startswith("httpx") for record in caplog.records
    )  # the client's own debug logs too
    leaks = [text for text in texts if KEY in text or KEY[8:] in text]
    assert not leaks  # ...and it appears nowhere


async def test_an_error_event_in_the_stream_is_an_engine_error() -> None:
    backend = ChatBackend([sse_chunk("Hel"), sse({"error": {"message": "model crashed"}})])
    async with backend_and_engine(backend) as llm:
        with pytest.raises(BackendError, match="model crashed"):
            await collect(llm)


async def test_an_event_that_is_not_json_is_a_protocol_error() -> None:
    backend = ChatBackend([sse_chunk("Hel"), b"data: {not json\n\n"])
    async with backend_and_engine(backend) as llm:
        with pytest.raises(BackendProtocolError, match="not JSON"):
            await collect(llm)


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


async def test_a_connection_dropped_mid_answer_is_a_retryable_connection_error() -> None:
    """A raw loopback server that sends the headers and one event, then closes the socket."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        event = sse_chunk("Hel")
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    got: list[LLMChunk] = []
    try:
        async with HTTPLLMEngine(f"http://127.0.0.1:{port}/v1", "m") as llm:
            with pytest.raises(BackendConnectionError) as info:
                async for chunk in llm.stream(QUESTION):
                    got.append(chunk)
    finally:
        server.close()
        await server.wait_closed()
    assert got == [TextDelta("Hel")]
    assert (info.value.code, info.value.retryable) == ("backend_connection_lost", True)

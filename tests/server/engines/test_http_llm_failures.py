"""The HTTP LLM engine failing against real loopback servers: statuses, timeouts, drops, cancelling, secrets.

Every failure must come out as a ``BackendError`` that says what to do, with ``retryable`` where trying
again may work, and the API key must appear in no log line, repr or exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback

import pytest

from voxpipe.errors import ConnectionFailedError, ServerError
from voxpipe.server.engines.base import EngineError, LLMChunk, TextDelta
from voxpipe.server.engines.http import (
    BackendConnectionError,
    BackendError,
    BackendProtocolError,
    BackendStatusError,
    BackendTimeoutError,
    HTTPLLMEngine,
)

from .test_http_support import (
    KEY,
    QUESTION,
    STALL,
    USAGE,
    ChatBackend,
    backend_and_engine,
    collect,
    free_port,
    serve,
    sse,
    sse_chunk,
)


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

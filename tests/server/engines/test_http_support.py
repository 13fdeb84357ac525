"""Helpers of the HTTP engine tests (no tests here): a real HTTP server on loopback, in the test's loop.

The HTTP engines are tested against a real uvicorn serving a small Starlette app that plays the backend,
so sockets, chunked streaming, disconnects and timeouts are the real ones; ``httpx.MockTransport`` would
hide exactly the behaviour under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import json
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from voxpipe.server.engines.base import FunctionTool, LLMChunk, LLMMessage, LLMRequest
from voxpipe.server.engines.http import HTTPLLMEngine

__all__ = [
    "KEY",
    "QUESTION",
    "STALL",
    "USAGE",
    "WEATHER",
    "ChatBackend",
    "backend_and_engine",
    "collect",
    "free_port",
    "multipart_fields",
    "serve",
    "sse",
    "sse_chunk",
]

KEY = "sk-test-SECRET-0123456789abcdef"


class _QuietServer(uvicorn.Server):
    """uvicorn without signal handlers: pytest owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve(routes: list[Route]) -> AsyncIterator[str]:
    """Serve ``routes`` on 127.0.0.1 at a free port; yield the API root ``http://127.0.0.1:<port>/v1``."""
    sock = socket.socket(socket.AF_INET)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        Starlette(routes=routes),
        lifespan="off",
        log_config=None,
        log_level="warning",
        access_log=False,
        ws="none",
        timeout_graceful_shutdown=1,
    )
    server = _QuietServer(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]), name=f"backend :{port}")
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the test backend stopped during start-up")
            await asyncio.sleep(0.005)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        done, _ = await asyncio.wait({task}, timeout=3)
        if not done:
            server.force_exit = True
        await task
        sock.close()


def free_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    with socket.socket(socket.AF_INET) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sse(data: Any) -> bytes:
    """One server-sent event with ``data`` as JSON (or as is, for a string)."""
    text = data if isinstance(data, str) else json.dumps(data)
    return f"data: {text}\n\n".encode()


def sse_chunk(
    content: str | None = None,
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str | None = None,
) -> bytes:
    """A ``chat.completion.chunk`` event as OpenAI streams it."""
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    return sse(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
    )


async def multipart_fields(request: Request) -> dict[str, tuple[str | None, bytes]]:
    """The parts of a multipart/form-data request: name -> (filename, bytes), parsed with the stdlib."""
    body = await request.body()
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        fields[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields


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

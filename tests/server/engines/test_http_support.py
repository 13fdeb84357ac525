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
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

__all__ = ["free_port", "multipart_fields", "serve", "sse", "sse_chunk"]

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

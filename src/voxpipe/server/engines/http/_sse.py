"""Reading a server-sent-events body as the OpenAI API streams it: one JSON object per event, then ``[DONE]``.

Only what chat completions use is kept: ``data:`` lines (joined with newlines when an event has several);
comments (``: keep-alive``, which some proxies send) and other fields are skipped. A body that ends
without ``[DONE]`` simply ends (llama.cpp and vLLM both send it, but a proxy may cut it off).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

__all__ = ["sse_data", "sse_json"]

_DONE = "[DONE]"


async def sse_data(lines: AsyncIterator[str]) -> AsyncGenerator[str, None]:
    """Yield the data of each event of a body given line by line, stopping at ``[DONE]``."""
    data: list[str] = []
    try:
        async for line in lines:
            if line:
                name, _, value = line.partition(":")
                if name == "data":
                    data.append(value.removeprefix(" "))
                continue
            if not data:
                continue
            payload, data = "\n".join(data), []
            if payload.strip() == _DONE:
                return
            yield payload
    finally:  # an early stop must not leave the line reader to the garbage collector
        close = getattr(lines, "aclose", None)
        if close is not None:
            await close()
    if data and "\n".join(data).strip() != _DONE:
        yield "\n".join(data)


async def sse_json(lines: AsyncIterator[str]) -> AsyncGenerator[Any, None]:
    """Yield each event's data decoded as JSON; raises ``ValueError`` for data that is not JSON."""
    async with contextlib.aclosing(sse_data(lines)) as payloads:
        async for payload in payloads:
            yield json.loads(payload)

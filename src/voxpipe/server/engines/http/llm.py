"""LLM over any OpenAI-compatible ``POST /chat/completions`` (vLLM, Ollama, llama.cpp's server, OpenAI).

The response streams (server-sent events) and each ``delta.content`` leaves at once as a ``TextDelta``.
Tools go out as OpenAI chat tools; streamed ``tool_calls`` pieces are joined per index and a call leaves
as one ``ToolCall`` when its choice finishes, only for a declared tool with arguments that validate (see
``_chat``). Usage comes from the final chunk that ``stream_options: {"include_usage": true}`` asks for.
Some servers never send it (llama-cpp-python's server ignores ``stream_options``); usage is then
*estimated*: one output token per streamed delta (llama.cpp, vLLM and Ollama stream a token per delta)
and one input token per 4 characters of the request's messages and tools.

Closing the generator (or cancelling its task) closes the HTTP response at once, and with it the
connection, so the backend sees the client go away and can stop generating.

Backend-specific sampling settings (llama.cpp's ``repeat_penalty``, vLLM's ``top_k``) go in ``extra_body``.
``max_output_tokens`` is sent as ``max_tokens``, which all of the servers above accept.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

import httpx

from voxpipe.server.engines.base import (
    LLMCapabilities,
    LLMChunk,
    LLMEngine,
    LLMRequest,
    TextDelta,
    ToolCall,
    Usage,
)
from voxpipe.server.engines.http._chat import ToolCallAssembler, chat_messages, chat_tools, declared_tools
from voxpipe.server.engines.http._client import BackendClient, BackendConfig
from voxpipe.server.engines.http._sse import sse_json
from voxpipe.server.engines.http.errors import BackendError, BackendProtocolError

__all__ = ["HTTPLLMEngine"]

logger = logging.getLogger(__name__)

_WHAT = "streaming a chat completion"


class HTTPLLMEngine(LLMEngine):
    """Chat completions from an OpenAI-compatible server; one connection pool per engine.

    Args:
        base_url: the API root (``http://127.0.0.1:8080/v1``); requests go to ``<base_url>/chat/completions``.
        model: the model name the server knows.
        api_key: sent as a bearer token; None for servers that need none.
        timeout_s: longest wait for the first token and between tokens.
        connect_timeout_s: longest wait for a connection.
        context_tokens: the model's context window, reported in ``capabilities`` (the server enforces it).
        tool_calls: send tools; False for servers that refuse the ``tools`` field.
        max_output_tokens: cap sent when a request sets none (None: the server's own limit).
        extra_body: more fields for every request body (backend-specific settings).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        context_tokens: int = 8192,
        tool_calls: bool = True,
        max_output_tokens: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        self._client = BackendClient(
            BackendConfig("LLM", base_url, model, api_key, timeout_s, connect_timeout_s)
        )
        self._model = model
        self._max_output_tokens = max_output_tokens
        self._extra_body = dict(extra_body or {})
        self._said_no_usage = False
        self.capabilities = LLMCapabilities(model=model, tool_calls=tool_calls, context_tokens=context_tokens)

    def __repr__(self) -> str:
        return f"HTTPLLMEngine({self._client.url}, model={self._model!r})"

    async def warm_up(self) -> None:
        """Check once that the server answers (and accepts the key); problems are logged, not raised."""
        await self._client.probe()

    async def aclose(self) -> None:
        await self._client.aclose()

    def request_body(self, request: LLMRequest) -> dict[str, Any]:
        """The JSON body for ``request`` (without secrets; the key travels in a header)."""
        body: dict[str, Any] = {
            "model": self._model,
            "messages": chat_messages(request),
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": request.temperature,
        }
        max_tokens = request.max_output_tokens or self._max_output_tokens
        if max_tokens:
            body["max_tokens"] = max_tokens
        if self.capabilities.tool_calls:
            body |= chat_tools(request)
        body |= self._extra_body
        return body

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """Stream text deltas and accepted tool calls, then one ``Usage`` (see the module docstring).

        Raises:
            VoxpipeUsageError: ``tool_choice`` names an undeclared tool.
            BackendError: the server failed, timed out or could not be reached (``retryable`` for 429,
                5xx, timeouts and lost connections).
        """
        calls = ToolCallAssembler(declared_tools(request) if self.capabilities.tool_calls else ())
        body = self.request_body(request)
        logger.debug(
            "llm: POST %s/chat/completions (%d messages, %d tools)",
            self._client.url,
            len(body["messages"]),
            len(body.get("tools", ())),
        )
        usage: Usage | None = None
        deltas = 0
        async with (
            self._client.stream("POST", "chat/completions", _WHAT, json=body) as response,
            contextlib.aclosing(_events(response)) as events,
        ):
            try:
                async for event in events:
                    if not isinstance(event, Mapping):
                        continue
                    if event.get("error") is not None:
                        raise self._stream_error(event["error"])
                    if isinstance(event.get("usage"), Mapping):
                        usage = _usage(event["usage"])
                    for choice in event.get("choices") or ():
                        if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                            continue
                        delta = choice.get("delta")
                        if not isinstance(delta, Mapping):
                            delta = {}
                        text = delta.get("content")
                        if isinstance(text, str) and text:
                            deltas += 1
                            yield TextDelta(text)
                        for piece in delta.get("tool_calls") or ():
                            if isinstance(piece, Mapping):
                                deltas += 1
                                calls.add(piece)
                        if choice.get("finish_reason") is not None:
                            for call in calls.complete():
                                yield call
            except json.JSONDecodeError as exc:
                raise BackendProtocolError(
                    f"the LLM backend at {self._client.url} streamed an event that is not JSON while "
                    f"{_WHAT}; check that it is an OpenAI-compatible server",
                    code="backend_bad_response",
                ) from exc
        leftover: list[ToolCall] = calls.complete() if calls.pending else []
        for call in leftover:  # the stream ended without a finish_reason
            yield call
        yield usage if usage is not None else self._estimate(body, deltas)

    def _estimate(self, body: Mapping[str, Any], deltas: int) -> Usage:
        if not self._said_no_usage:
            self._said_no_usage = True
            logger.info("llm: the backend sends no usage; estimating token counts")
        sent = len(json.dumps(body["messages"])) + len(json.dumps(body.get("tools", [])))
        return Usage(input_tokens=(sent + 3) // 4, output_tokens=deltas)

    def _stream_error(self, error: Any) -> BackendError:
        said = error.get("message", "") if isinstance(error, Mapping) else str(error)
        said = self._client.redact(str(said).strip().splitlines()[0] if str(said).strip() else "")[:300]
        return BackendError(
            f"the LLM backend at {self._client.url} reported an error in the middle of the answer"
            + (f" ({said})" if said else "")
            + "; retry, and read the backend's logs if it keeps failing",
            code="backend_stream_error",
        )


async def _events(response: httpx.Response) -> AsyncGenerator[Any, None]:
    """The chunks of a streamed answer; a server that answered with one JSON completion becomes one chunk."""
    if "text/event-stream" in response.headers.get("content-type", ""):
        async with contextlib.aclosing(sse_json(response.aiter_lines())) as chunks:
            async for chunk in chunks:
                yield chunk
        return
    data = json.loads(await response.aread())
    if isinstance(data, Mapping) and isinstance(data.get("choices"), list):
        choices = [
            {"index": c.get("index", 0), "delta": c.get("message"), "finish_reason": c.get("finish_reason")}
            for c in data["choices"]
            if isinstance(c, Mapping)
        ]
        data = {**data, "choices": choices}
    yield data


def _usage(raw: Mapping[str, Any]) -> Usage:
    details = raw.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, Mapping) else None
    return Usage(
        input_tokens=int(raw.get("prompt_tokens") or 0),
        output_tokens=int(raw.get("completion_tokens") or 0),
        cached_tokens=int(cached or 0),
    )

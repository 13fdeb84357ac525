"""The error boundary of the HTTP engines: every ``httpx`` error and HTTP status becomes a ``BackendError``.

Unit level (``BackendClient.boundary`` and ``check`` directly); the engine tests show the same errors
coming out of real requests. Also the SSE reader's edge cases, fed line by line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from voxpipe.errors import ConnectionFailedError, OperationTimeoutError, ServerError, VoxpipeWorldError
from voxpipe.server.engines.base import EngineError
from voxpipe.server.engines.http import (
    BackendConnectionError,
    BackendError,
    BackendProtocolError,
    BackendStatusError,
    BackendTimeoutError,
)
from voxpipe.server.engines.http._client import BackendClient, BackendConfig, display_url
from voxpipe.server.engines.http._sse import sse_data

from .test_http_support import KEY

REQUEST = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")

MAPPED: list[tuple[Exception, type[BackendError], str, bool]] = [
    (httpx.ConnectTimeout("t", request=REQUEST), BackendTimeoutError, "backend_timeout", True),
    (httpx.ReadTimeout("t", request=REQUEST), BackendTimeoutError, "backend_timeout", True),
    (httpx.WriteTimeout("t", request=REQUEST), BackendTimeoutError, "backend_timeout", True),
    (httpx.PoolTimeout("t", request=REQUEST), BackendTimeoutError, "backend_timeout", True),
    (httpx.ConnectError("refused", request=REQUEST), BackendConnectionError, "backend_unreachable", True),
    (httpx.ReadError("reset", request=REQUEST), BackendConnectionError, "backend_connection_lost", True),
    (httpx.WriteError("reset", request=REQUEST), BackendConnectionError, "backend_connection_lost", True),
    (
        httpx.RemoteProtocolError("incomplete chunked read", request=REQUEST),
        BackendConnectionError,
        "backend_connection_lost",
        True,
    ),
    (httpx.DecodingError("bad gzip", request=REQUEST), BackendProtocolError, "backend_bad_response", False),
    (httpx.TooManyRedirects("loop", request=REQUEST), BackendProtocolError, "backend_bad_response", False),
]


@pytest.mark.parametrize(
    ("error", "mapped", "code", "retryable"), MAPPED, ids=[type(m[0]).__name__ for m in MAPPED]
)
async def test_each_httpx_error_is_mapped(
    error: Exception, mapped: type[BackendError], code: str, retryable: bool
) -> None:
    client = BackendClient(BackendConfig("LLM", "http://user:pw@127.0.0.1:9/v1", "m", KEY))
    with pytest.raises(mapped) as info:
        async with client.boundary("streaming a chat completion"):
            raise error
    assert isinstance(info.value, EngineError)
    assert info.value.__cause__ is error
    assert (info.value.code, info.value.retryable, info.value.recoverable) == (code, retryable, True)
    assert "LLM backend at http://127.0.0.1:9/v1" in str(info.value)
    assert "pw" not in str(info.value)


def test_the_leaves_sit_under_the_voxpipe_branches() -> None:
    assert issubclass(BackendTimeoutError, OperationTimeoutError)
    assert issubclass(BackendTimeoutError, TimeoutError)
    assert issubclass(BackendConnectionError, ConnectionFailedError)
    assert issubclass(BackendStatusError, ServerError)
    assert issubclass(BackendError, VoxpipeWorldError)


async def test_our_own_errors_pass_the_boundary_unchanged() -> None:
    client = BackendClient(BackendConfig("TTS", "http://127.0.0.1:9/v1"))
    original = BackendProtocolError("bad wav")
    with pytest.raises(BackendProtocolError) as info:
        async with client.boundary("synthesizing speech"):
            raise original
    assert info.value is original


@pytest.mark.parametrize(
    ("status", "code", "recoverable", "retryable"),
    [
        (400, "backend_invalid_request", True, False),
        (401, "backend_unauthorized", False, False),
        (403, "backend_forbidden", False, False),
        (404, "backend_not_found", False, False),
        (408, "backend_timeout", True, True),
        (413, "backend_payload_too_large", True, False),
        (418, "backend_http_error", True, False),
        (422, "backend_invalid_request", True, False),
        (429, "backend_rate_limited", True, True),
        (500, "backend_server_error", True, True),
        (502, "backend_server_error", True, True),
    ],
)
async def test_each_status_is_mapped(status: int, code: str, recoverable: bool, retryable: bool) -> None:
    client = BackendClient(BackendConfig("STT", "http://127.0.0.1:9/v1", "whisper-1", KEY))
    response = httpx.Response(
        status, json={"detail": f"traceback line one with {KEY}\n  File x"}, request=REQUEST
    )
    with pytest.raises(BackendStatusError) as info:
        await client.check(response, "transcribing an utterance")
    error = info.value
    assert (error.status, error.code, error.recoverable, error.retryable) == (
        status,
        code,
        recoverable,
        retryable,
    )
    assert f"STT backend at http://127.0.0.1:9/v1 answered HTTP {status}" in str(error)
    assert "traceback line one with ***" in str(error)  # the backend's first line, key masked
    assert "File x" not in str(error)


def test_display_url_drops_credentials_and_query() -> None:
    assert display_url("https://me:secret@api.example/v1/?key=abc") == "https://api.example/v1"


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line


async def test_sse_reader_skips_comments_joins_data_lines_and_stops_at_done() -> None:
    lines = _lines(
        ": keep-alive",
        "",
        "event: message",
        'data: {"a":',
        "data: 1}",
        "",
        "data:{}",
        "",
        "data: [DONE]",
        "",
        "data: after done",
        "",
    )
    assert [p async for p in sse_data(lines)] == ['{"a":\n1}', "{}"]


async def test_sse_reader_yields_a_last_event_without_a_blank_line() -> None:
    assert [p async for p in sse_data(_lines("data: 1", "", "data: 2"))] == ["1", "2"]

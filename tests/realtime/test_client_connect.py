"""RealtimeClient: URL, headers and subprotocols per variant, the startup handshake and its failures."""

from __future__ import annotations

import asyncio
import socket

import pytest
from websockets.exceptions import (
    InvalidHandshake,
    InvalidMessage,
    InvalidStatus,
    InvalidURI,
    NegotiationError,
)
from websockets.http11 import Response

from voxpipe.errors import ConnectionFailedError, VoxpipeStateError, VoxpipeUsageError
from voxpipe.realtime.client import (
    ClientState,
    ConnectTimeoutError,
    RealtimeClient,
    RealtimeClientConfig,
    RealtimeServerError,
    RealtimeVariant,
    ReconnectPolicy,
)
from voxpipe.realtime.client._config import build_target
from voxpipe.realtime.client._connect import translate_connect_error
from voxpipe.testing import FakeRealtimeServer, drop, expect_close, reject, send, wait

KEY = "sk-test-connect-0123456789abcdef"


def config(url: str, **overrides: object) -> RealtimeClientConfig:
    values: dict[str, object] = {
        "api_key": KEY,
        "base_url": url,
        "open_timeout": 2.0,
        "session_created_timeout": 2.0,
        "close_timeout": 1.0,
        "reconnect": ReconnectPolicy(max_attempts=0),
    }
    values.update(overrides)
    return RealtimeClientConfig(**values)  # type: ignore[arg-type]


# --- URL and headers, without a socket -------------------------------------------------------------


def test_beta_target_has_bearer_and_beta_header() -> None:
    target = build_target(RealtimeClientConfig(api_key=KEY))
    assert target.url == "wss://api.openai.com/v1/realtime?model=gpt-4o-realtime-preview-2025-06-03"
    assert dict(target.headers) == {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "realtime=v1"}
    assert target.subprotocols is None
    assert target.shape == "beta"


def test_ga_target_has_no_beta_header_and_ga_model() -> None:
    target = build_target(RealtimeClientConfig(api_key=KEY, variant=RealtimeVariant.OPENAI_GA))
    assert target.url.endswith("?model=gpt-realtime")
    assert dict(target.headers) == {"Authorization": f"Bearer {KEY}"}
    assert target.shape == "ga"


def test_base_url_query_is_kept_and_http_becomes_ws() -> None:
    cfg = RealtimeClientConfig(base_url="https://example.test/v1/realtime?foo=1&model=m-url")
    assert build_target(cfg).url == "wss://example.test/v1/realtime?foo=1&model=m-url"
    cfg = RealtimeClientConfig(base_url="http://example.test/v1/realtime?foo=1", model="m2")
    assert build_target(cfg).url == "ws://example.test/v1/realtime?foo=1&model=m2"


def test_azure_target() -> None:
    cfg = RealtimeClientConfig(
        api_key=KEY,
        variant=RealtimeVariant.AZURE,
        base_url="https://res.openai.azure.com",
        azure_deployment="gpt-4o-rt",
    )
    target = build_target(cfg)
    assert target.url == (
        "wss://res.openai.azure.com/openai/realtime?api-version=2024-10-01-preview&deployment=gpt-4o-rt"
    )
    assert dict(target.headers) == {"api-key": KEY}
    assert target.shape == "beta"


def test_azure_ga_target() -> None:
    cfg = RealtimeClientConfig(
        api_key=KEY, variant=RealtimeVariant.AZURE_GA, base_url="https://res.openai.azure.com", model="dep"
    )
    target = build_target(cfg)
    assert target.url == "wss://res.openai.azure.com/openai/v1/realtime?model=dep"
    assert dict(target.headers) == {"api-key": KEY}
    assert target.shape == "ga"


def test_browser_subprotocols_replace_headers() -> None:
    beta = build_target(RealtimeClientConfig(api_key=KEY, browser_subprotocols=True))
    assert beta.subprotocols == ("realtime", f"openai-insecure-api-key.{KEY}", "openai-beta.realtime-v1")
    assert dict(beta.headers) == {}
    ga = build_target(
        RealtimeClientConfig(api_key=KEY, browser_subprotocols=True, variant=RealtimeVariant.OPENAI_GA)
    )
    assert ga.subprotocols == ("realtime", f"openai-insecure-api-key.{KEY}")


@pytest.mark.parametrize(
    "overrides",
    [
        {"base_url": "ftp://example.test/"},
        {"variant": RealtimeVariant.AZURE, "base_url": "https://res.openai.azure.com"},
    ],
)
def test_bad_config_is_a_usage_error(overrides: dict[str, object]) -> None:
    with pytest.raises(VoxpipeUsageError):
        RealtimeClient(RealtimeClientConfig(**overrides))  # type: ignore[arg-type]


def test_bad_reconnect_policy_is_a_usage_error() -> None:
    with pytest.raises(VoxpipeUsageError):
        ReconnectPolicy(jitter=2)


# --- the handshake on loopback ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "expected_headers", "absent"),
    [
        (RealtimeVariant.OPENAI_BETA, {"authorization": f"Bearer {KEY}", "openai-beta": "realtime=v1"}, []),
        (RealtimeVariant.OPENAI_GA, {"authorization": f"Bearer {KEY}"}, ["openai-beta"]),
    ],
)
async def test_handshake_per_openai_variant(
    variant: RealtimeVariant, expected_headers: dict[str, str], absent: list[str]
) -> None:
    async with (
        FakeRealtimeServer([expect_close()], shape=variant.shape) as server,
        RealtimeClient(config(server.url, variant=variant)) as client,
    ):
        assert client.state is ClientState.CONNECTED
        event = await client.recv(timeout=2)
        assert event.type == "session.created"
    handshake = server.connections[0].handshake
    assert handshake.path == "/v1/realtime"
    assert handshake.query["model"]
    for name, value in expected_headers.items():
        assert handshake.headers[name] == value
    for name in absent:
        assert name not in handshake.headers


async def test_handshake_azure() -> None:
    async with FakeRealtimeServer([expect_close()]) as server:
        cfg = config(
            server.url.removesuffix("/v1/realtime"), variant=RealtimeVariant.AZURE, azure_deployment="dep1"
        )
        async with RealtimeClient(cfg):
            pass
    handshake = server.connections[0].handshake
    assert handshake.path == "/openai/realtime"
    assert handshake.query == {"api-version": "2024-10-01-preview", "deployment": "dep1"}
    assert handshake.headers["api-key"] == KEY
    assert "authorization" not in handshake.headers


async def test_handshake_browser_subprotocols() -> None:
    async with (
        FakeRealtimeServer([expect_close()]) as server,
        RealtimeClient(config(server.url, browser_subprotocols=True)),
    ):
        pass
    handshake = server.connections[0].handshake
    assert handshake.subprotocols == ["realtime", f"openai-insecure-api-key.{KEY}", "openai-beta.realtime-v1"]
    assert "authorization" not in handshake.headers


async def test_connect_without_waiting_for_session_created() -> None:
    script = [wait(0.05), send({"type": "session.created", "session": {}}), expect_close()]
    async with (
        FakeRealtimeServer(script, greet=False) as server,
        RealtimeClient(config(server.url, wait_for_session_created=False)) as client,
    ):
        assert client.state is ClientState.CONNECTED
        assert (await client.recv(timeout=2)).type == "session.created"


async def test_connect_twice_is_a_state_error() -> None:
    async with FakeRealtimeServer([expect_close()]) as server, RealtimeClient(config(server.url)) as client:
        with pytest.raises(VoxpipeStateError, match="idle"):
            await client.connect()


# --- failures ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_refused_connection_raises_connection_failed() -> None:
    client = RealtimeClient(config(f"ws://127.0.0.1:{free_port()}/v1/realtime"))
    with pytest.raises(ConnectionFailedError, match="could not reach") as info:
        await client.connect()
    assert info.value.retryable
    assert KEY not in str(info.value)
    assert client.state is ClientState.CLOSED


async def test_http_401_is_not_retryable() -> None:
    async with FakeRealtimeServer([reject(401, "bad key")]) as server:
        client = RealtimeClient(config(server.url))
        with pytest.raises(ConnectionFailedError, match="HTTP 401: check the API key") as info:
            await client.connect()
    assert info.value.code == "http_401"
    assert not info.value.retryable


async def test_fatal_error_in_handshake_raises_server_error() -> None:
    bad_key = {"type": "invalid_request_error", "code": "invalid_api_key", "message": "Incorrect API key."}
    script = [send({"type": "error", "error": bad_key}), drop(3000, "invalid_request_error.invalid_api_key")]
    async with FakeRealtimeServer(script, greet=False) as server:
        client = RealtimeClient(config(server.url))
        with pytest.raises(RealtimeServerError, match="invalid_api_key") as info:
            await client.connect()
    assert info.value.classification.fatal
    assert client.state is ClientState.CLOSED


async def test_fatal_close_in_handshake_raises_server_error() -> None:
    async with FakeRealtimeServer(
        [drop(4000, "invalid_request_error.beta_api_shape_disabled")], greet=False
    ) as s:
        with pytest.raises(RealtimeServerError, match="4000") as info:
            await RealtimeClient(config(s.url)).connect()
    assert info.value.code == "beta_api_shape_disabled"


async def test_no_session_created_times_out() -> None:
    async with FakeRealtimeServer([expect_close()], greet=False) as server:
        client = RealtimeClient(config(server.url, session_created_timeout=0.1))
        with pytest.raises(ConnectTimeoutError, match=r"no session\.created"):
            await client.connect()


async def test_cancelled_connect_leaves_nothing_running() -> None:
    async with FakeRealtimeServer([expect_close()], greet=False) as server:
        client = RealtimeClient(config(server.url))
        task = asyncio.create_task(client.connect())
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client.state is ClientState.CLOSED
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_hook_failure_on_first_connection_reaches_connect() -> None:
    async def broken_hook(info: object) -> None:
        raise KeyError("replay state missing")

    async with FakeRealtimeServer([expect_close()]) as server:
        client = RealtimeClient(config(server.url), on_connected=broken_hook)
        with pytest.raises(KeyError, match="replay state missing"):
            await client.connect()
        assert client.state is ClientState.CLOSED


@pytest.mark.parametrize(
    ("error", "expected", "retryable"),
    [
        (InvalidURI("x", "bad"), VoxpipeUsageError, False),
        (InvalidStatus(Response(503, "busy", [])), ConnectionFailedError, True),
        (InvalidStatus(Response(404, "nope", [])), ConnectionFailedError, False),
        (
            NegotiationError(f"unsupported subprotocol openai-insecure-api-key.{KEY}"),
            ConnectionFailedError,
            False,
        ),
        (InvalidMessage("did not receive a valid HTTP response"), ConnectionFailedError, True),
        (InvalidHandshake("weird"), ConnectionFailedError, True),
        (TimeoutError(), ConnectTimeoutError, True),
        (ConnectionRefusedError(111, "refused"), ConnectionFailedError, True),
    ],
)
def test_each_websockets_error_is_translated(
    error: Exception, expected: type[Exception], retryable: bool
) -> None:
    translated, cause = translate_connect_error(error, f"ws://h/?api_key={KEY}", (KEY,))
    assert isinstance(translated, expected)
    assert KEY not in str(translated)
    if isinstance(translated, ConnectionFailedError):
        assert translated.retryable is retryable
    assert cause is None or (cause is error and KEY not in str(cause))

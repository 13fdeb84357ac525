"""Safe defaults: browser Origins (WebSocket and CORS), key comparison, no secret in any log line, and a
warning when the server listens beyond loopback without a key."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets

from voxpipe.server import LocalRealtimeServer, ServerConfig
from voxpipe.server.auth import KeyStore
from voxpipe.server.log_redaction import RedactingFilter, install_log_redaction, redact_line
from voxpipe.server.origin_policy import OriginPolicy
from voxpipe.server.running import warn_if_exposed

from ._raw_socket import RawSocketClient

pytestmark = pytest.mark.timeout(30)

KEY = "my-server-key-0123456789"
WRONG = "not-the-key-zyxwvutsrqponm"
EK_LIKE = "ek_" + "A" * 32


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (None, "api.example.com", True),  # not a browser
        ("http://localhost:5173", "127.0.0.1:8000", True),
        ("http://127.0.0.1:9000", "127.0.0.1:8000", True),
        ("http://127.1.2.3", "127.0.0.1:8000", True),
        ("http://[::1]:8080", "[::1]:8000", True),
        ("http://app.localhost:3000", "127.0.0.1:8000", True),
        ("https://voice.example.com", "voice.example.com", True),  # same origin
        ("https://evil.example", "127.0.0.1:8000", False),
        ("https://localhost.evil.example", "127.0.0.1:8000", False),
        ("null", "127.0.0.1:8000", False),
        ("file://", "127.0.0.1:8000", False),
        ("chrome-extension://abc", "127.0.0.1:8000", False),
    ],
)
def test_default_policy(origin: str | None, host: str, allowed: bool) -> None:
    assert OriginPolicy().allows(origin, host) is allowed


def test_configured_origins() -> None:
    policy = OriginPolicy(["https://App.Example.com/"])
    assert policy.allows("https://app.example.com", "127.0.0.1:8000")
    assert not policy.allows("https://other.example.com", "127.0.0.1:8000")
    assert OriginPolicy(["*"]).allows("https://anything.example", "127.0.0.1:8000")


@pytest.fixture
async def open_server() -> AsyncIterator[LocalRealtimeServer]:
    config = ServerConfig(port=0, engines="test", allowed_origins=("https://app.example.com",))
    async with LocalRealtimeServer(config) as running:
        yield running


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("https://evil.example", 403),
        ("null", 403),
        ("http://localhost:5173", 101),
        ("https://app.example.com", 101),
        (None, 101),
    ],
)
async def test_browser_websockets_are_checked_before_any_session(
    open_server: LocalRealtimeServer, origin: str | None, status: int
) -> None:
    headers = {"Origin": origin} if origin is not None else {}
    client, status_line, _ = await RawSocketClient.handshake(
        f"{open_server.realtime_url}?model=m", headers=headers, receive_buffer=None
    )
    client.close()
    assert f" {status} " in status_line
    if status == 403:
        assert open_server.open_sessions == 0


async def test_cross_origin_key_requests_are_refused_and_mint_nothing(
    open_server: LocalRealtimeServer,
) -> None:
    async with httpx.AsyncClient(base_url=open_server.url) as http:
        # a "simple" request: a browser sends it without a preflight
        evil = await http.post(
            "/v1/realtime/sessions",
            content=b"{}",
            headers={"Origin": "https://evil.example", "Content-Type": "text/plain"},
        )
        assert evil.status_code == 403
        assert evil.json()["error"]["code"] == "origin_not_allowed"
        assert "access-control-allow-origin" not in evil.headers
        preflight = await http.options(
            "/v1/realtime/client_secrets",
            headers={
                "Origin": "https://evil.example",
                "Access-Control-Request-Method": "POST",
            },
        )
        assert preflight.status_code == 403


async def test_allowed_pages_get_cors(open_server: LocalRealtimeServer) -> None:
    page = "http://localhost:5173"
    async with httpx.AsyncClient(base_url=open_server.url) as http:
        preflight = await http.options(
            "/v1/realtime/client_secrets",
            headers={
                "Origin": page,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == page
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert preflight.headers["access-control-allow-headers"] == "authorization, content-type"
        minted = await http.post("/v1/realtime/client_secrets", json={}, headers={"Origin": page})
        assert minted.status_code == 200
        assert minted.headers["access-control-allow-origin"] == page
        plain = await http.post("/v1/realtime/client_secrets", json={})
        assert plain.status_code == 200
        assert "access-control-allow-origin" not in plain.headers


def test_key_comparison() -> None:
    keys = KeyStore(KEY)
    assert keys.is_server_key(KEY)
    assert not keys.is_server_key(KEY[:-1])
    assert not keys.is_server_key(KEY + "x")
    assert not keys.is_server_key("")
    assert not keys.is_server_key(None)
    minted = keys.mint("ga", {}, 60)
    assert keys.ephemeral(minted.value) is minted
    assert keys.accepts(minted.value)
    assert not keys.accepts(minted.value[:-1])
    assert KeyStore(None).accepts(None)


@pytest.mark.parametrize(
    "line",
    [
        f"< Authorization: Bearer {WRONG}",
        f"> authorization: Basic {WRONG}",
        f"< api-key: {WRONG}",
        f"< Sec-WebSocket-Protocol: realtime, openai-insecure-api-key.{WRONG}",
        f"headers [('authorization', 'Bearer {WRONG}'), ('api-key', '{WRONG}')]",
        f"WebSocket /v1/realtime?model=m&api_key={WRONG} [accepted]",
        f"minted {EK_LIKE}",
        f"the server key is {KEY}",
    ],
)
def test_redaction_masks_keys_by_shape_and_by_value(line: str) -> None:
    cleaned = redact_line(line, [KEY])
    assert WRONG not in cleaned and KEY not in cleaned and EK_LIKE not in cleaned


def test_the_filter_rewrites_messages_arguments_and_tracebacks() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.DEBUG, __file__, 1, "< %s: %s", ("authorization", KEY), None
    )
    try:
        raise ValueError(f"bad key {KEY}")
    except ValueError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    assert RedactingFilter([KEY]).filter(record)
    assert KEY not in record.getMessage()
    assert record.exc_text is not None and KEY not in record.exc_text
    assert "ValueError" in record.exc_text


async def test_no_key_reaches_the_log_at_debug_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = ServerConfig(port=0, engines="test", api_key=KEY)
    async with LocalRealtimeServer(config) as server:
        for logger_name in ("uvicorn.error", "uvicorn", "websockets"):
            logging.getLogger(logger_name).setLevel(logging.DEBUG)
        url = f"{server.realtime_url}?model=m&api_key={WRONG}"
        attempts = [
            {"additional_headers": {"Authorization": f"Bearer {KEY}"}},
            {"additional_headers": {"api-key": WRONG}},
            {"subprotocols": ["realtime", f"openai-insecure-api-key.{WRONG}"]},
            {"subprotocols": ["realtime", f"openai-insecure-api-key.{KEY}"]},
        ]
        for options in attempts:
            async with websockets.connect(url, **options) as ws:  # type: ignore[arg-type]
                await ws.recv()
        async with httpx.AsyncClient(base_url=server.url) as http:
            minted = await http.post(
                "/v1/realtime/sessions", json={}, headers={"Authorization": f"Bearer {KEY}"}
            )
            assert minted.status_code == 200
    server_records = [r for r in caplog.records if not r.name.startswith("websockets.client")]  # the test's
    text = "\n".join(record.getMessage() + (record.exc_text or "") for record in server_records)
    assert "uvicorn.error" in {record.name for record in caplog.records}  # the libraries did log
    for secret in (KEY, WRONG):
        assert secret not in text


def test_install_is_idempotent_and_covers_root_handlers() -> None:
    handler = logging.NullHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_log_redaction([KEY])
        install_log_redaction([KEY])
        assert len([f for f in handler.filters if isinstance(f, RedactingFilter)]) == 1
        uvicorn_filters = logging.getLogger("uvicorn.error").filters
        assert len([f for f in uvicorn_filters if isinstance(f, RedactingFilter)]) == 1
    finally:
        root.removeHandler(handler)


@pytest.mark.parametrize(
    ("host", "api_key", "warned"),
    [
        ("127.0.0.1", None, False),
        ("localhost", None, False),
        ("::1", None, False),
        ("0.0.0.0", None, True),
        ("192.168.1.10", None, True),
        ("voice.example.com", None, True),
        ("0.0.0.0", KEY, False),
    ],
)
def test_a_warning_when_serving_beyond_loopback_without_a_key(
    caplog: pytest.LogCaptureFixture, host: str, api_key: str | None, warned: bool
) -> None:
    caplog.set_level(logging.WARNING)
    assert warn_if_exposed(ServerConfig(host=host, api_key=api_key)) is warned
    assert any("WITHOUT an API key" in r.getMessage() for r in caplog.records) is warned

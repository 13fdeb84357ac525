"""No API key in any log record, repr or exception, over whole sessions including failures."""

from __future__ import annotations

import logging
import socket
import traceback
from typing import Any

import pytest

from voxpipe.realtime.client import (
    ConnectionInfo,
    RealtimeClient,
    RealtimeClientConfig,
    RealtimeVariant,
    ReconnectPolicy,
    RedactingLogger,
    mask_secret,
    redact,
)
from voxpipe.testing import FakeRealtimeServer, drop, expect, expect_close, next_connection, reject, send

KEY = "sk-proj-SECRETsecretSECRET0123456789wxyz"
TAIL = KEY[-4:]


def config(url: str, **overrides: Any) -> RealtimeClientConfig:
    values: dict[str, Any] = {
        "api_key": KEY,
        "base_url": url,
        "close_timeout": 1.0,
        "reconnect": ReconnectPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01),
    }
    values.update(overrides)
    return RealtimeClientConfig(**values)


def texts_of(record: logging.LogRecord) -> list[str]:
    found = [record.getMessage(), repr(record.args), str(record.msg)]
    if record.exc_info:
        found.append("".join(traceback.format_exception(*record.exc_info)))
    if record.exc_text:
        found.append(record.exc_text)
    return found


def chain(error: BaseException) -> list[str]:
    texts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        texts += [str(current), repr(current), "".join(traceback.format_exception(current))]
        current = current.__cause__ or current.__context__
    return texts


def test_mask_and_redact() -> None:
    assert mask_secret(KEY) == f"sk-…{TAIL}"
    assert mask_secret("short") == "***"
    assert mask_secret(None) == "None"
    assert KEY not in redact(f"x {KEY} y", [KEY])
    assert KEY not in redact(f"wss://h/v1/realtime?api_key={KEY}")
    assert KEY not in redact(f"unsupported subprotocol openai-insecure-api-key.{KEY}")


def test_reprs_show_only_the_tail() -> None:
    for variant in RealtimeVariant:
        cfg = RealtimeClientConfig(
            api_key=KEY, variant=variant, azure_deployment="d", base_url=f"wss://h/?api_key={KEY}",
            extra_headers={"X-Other-Secret": "hidden-header-value"},
        )
        for text in (repr(cfg), str(cfg), repr(RealtimeClient(cfg))):
            assert KEY not in text and "hidden-header-value" not in text
            assert f"sk-…{TAIL}" in text


def test_redacting_logger_hides_sensitive_headers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    log = RedactingLogger(logging.getLogger("test.redact"), [KEY])
    log.debug("> %s: %s", "Authorization", f"Bearer {KEY}")
    log.debug("> %s: %s", "X-Custom", "plain")
    try:
        raise ValueError(f"boom {KEY}")
    except ValueError:
        log.debug("! failed", exc_info=True)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[:2] == ["> Authorization: ***", "> X-Custom: plain"]
    assert all(KEY not in t for r in caplog.records for t in texts_of(r))


async def test_no_key_anywhere_over_whole_sessions(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    leaky = {"type": "invalid_request_error", "code": "invalid_value", "message": f"bad value near {KEY}"}
    script = [
        expect("session.update"), send({"type": "error", "error": leaky}), expect("response.create"), drop(),
        next_connection(),
        expect("session.update"), expect_close(),
    ]

    async def replay(info: ConnectionInfo) -> None:
        await info.send({"type": "session.update", "session": {"instructions": "hi"}})

    clients: list[RealtimeClient] = []
    async with FakeRealtimeServer(script) as server:
        client = RealtimeClient(config(server.url), on_connected=replay)
        clients.append(client)
        async with client:
            client.send({"type": "response.create"})
            while (await client.recv(timeout=3)).type != "voxpipe.reconnected":
                pass
    async with FakeRealtimeServer([expect_close()]) as server:
        browser = RealtimeClient(config(server.url, browser_subprotocols=True))
        clients.append(browser)
        async with browser:
            pass
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for url_key in ("", f"?api_key={KEY}"):
        try:
            await RealtimeClient(config(f"ws://127.0.0.1:{port}/v1/realtime{url_key}")).connect()
        except Exception as exc:
            errors.append(exc)
    async with FakeRealtimeServer([reject(401, f"Incorrect API key provided: {KEY}")]) as server:
        try:
            await RealtimeClient(config(server.url)).connect()
        except Exception as exc:
            errors.append(exc)
    bad_key = {"type": "invalid_request_error", "code": "invalid_api_key", "message": f"Incorrect key {KEY}"}
    async with FakeRealtimeServer([send({"type": "error", "error": bad_key}), drop(3000)], greet=False) as s:
        try:
            await RealtimeClient(config(s.url, browser_subprotocols=True)).connect()
        except Exception as exc:
            errors.append(exc)

    assert len(errors) == 4
    assert len(caplog.records) > 50  # the wire logs were on: the scan below means something
    texts = [t for r in caplog.records for t in texts_of(r)]
    texts += [t for e in errors for t in chain(e)]
    texts += [repr(c) for c in clients]
    leaks = [t for t in texts if KEY in t or KEY[3:-4] in t]
    assert not leaks
    assert any(f"sk-…{TAIL}" in t for t in texts)

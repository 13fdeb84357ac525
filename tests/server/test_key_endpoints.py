"""The key endpoints validate their body as ``session.update`` does (same models, limits and codes; 4xx, never
a 500), refuse unknown fields the same way, cap the body while reading it, and mint nothing they refused."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import httpx
import pytest

from voxpipe.server import LocalRealtimeServer

from ._support import RawClient

pytestmark = pytest.mark.timeout(30)

BAD_SESSIONS: list[tuple[str, dict[str, Any], str, str | None]] = [
    ("wrong type", {"voice": 5}, "invalid_type", "voice"),
    ("wrong type of a shared field", {"instructions": 5}, "invalid_type", "instructions"),
    (
        "wrong nested type",
        {"turn_detection": {"type": "server_vad", "threshold": "high"}},
        "invalid_type",
        "turn_detection.threshold",
    ),
    ("wrong list type", {"modalities": "audio"}, "invalid_type", "modalities"),
    ("tools not a list", {"tools": {"name": "f"}}, "invalid_type", "tools"),
    ("unknown field", {"bogus": 1}, "unknown_parameter", "bogus"),
    ("out of range", {"temperature": 5.0}, "decimal_above_max_value", "temperature"),
    ("long instructions", {"instructions": "x" * 200_000}, "string_above_max_length", "instructions"),
    ("deep", {"metadata": {"a": json.loads("[" * 40 + "]" * 40)}}, "invalid_event", None),
]


async def _events_on(server: LocalRealtimeServer, shape: str) -> list[str]:
    """What a client sees on connecting (the session opens, whatever keys were refused)."""
    client = await RawClient.connect(server.realtime_url, shape)
    try:
        return [(await client.recv())["type"]]
    finally:
        await client.aclose()


@pytest.mark.parametrize(("name", "session", "code", "param"), BAD_SESSIONS, ids=[c[0] for c in BAD_SESSIONS])
async def test_beta_sessions_refuses_what_session_update_refuses(
    server: LocalRealtimeServer, name: str, session: dict[str, Any], code: str, param: str | None
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        reply = await http.post("/v1/realtime/sessions", json=session)
        assert reply.status_code == 400, reply.text
        assert (reply.json()["error"]["code"], reply.json()["error"]["param"]) == (code, param)
        client = await RawClient.connect(server.realtime_url, "beta")
        try:
            await client.recv_until("session.created")
            await client.send({"type": "session.update", "session": session})
            error = await client.recv()
            assert error["error"]["code"] == code
            assert error["error"]["param"] == (None if param is None else f"session.{param}")
        finally:
            await client.aclose()


@pytest.mark.parametrize(("name", "session", "code", "param"), BAD_SESSIONS, ids=[c[0] for c in BAD_SESSIONS])
async def test_ga_client_secrets_refuses_what_session_update_refuses(
    server: LocalRealtimeServer, name: str, session: dict[str, Any], code: str, param: str | None
) -> None:
    if not {"voice", "modalities", "turn_detection", "temperature"}.isdisjoint(session):
        pytest.skip("a beta field name (GA nests or drops it)")
    body = {"session": {"type": "realtime", **session}}
    async with httpx.AsyncClient(base_url=server.url) as http:
        reply = await http.post("/v1/realtime/client_secrets", json=body)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["code"] == code
    assert reply.json()["error"]["param"] == (None if param is None else f"session.{param}")


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"bogus": 1}, "unknown_parameter", "bogus"),
        ({"expires_after": {"seconds": "60"}}, "invalid_value", "expires_after.seconds"),
        ({"expires_after": 60}, "invalid_type", "expires_after"),
        ({"session": []}, "invalid_type", "session"),
    ],
)
async def test_ga_client_secrets_body_fields(
    server: LocalRealtimeServer, body: dict[str, Any], code: str, param: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        reply = await http.post("/v1/realtime/client_secrets", json=body)
    assert reply.status_code == 400
    assert (reply.json()["error"]["code"], reply.json()["error"]["param"]) == (code, param)


@pytest.mark.parametrize("body", [b"[1, 2]", b"{oops", b"\xff\xfe", b"[" * 100_000])
async def test_bodies_that_are_not_objects_get_400(server: LocalRealtimeServer, body: bytes) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        for path in ("/v1/realtime/sessions", "/v1/realtime/client_secrets"):
            reply = await http.post(path, content=body, headers={"Content-Type": "application/json"})
            assert reply.status_code == 400, (path, reply.text)


async def test_a_valid_key_request_still_mints_a_working_key(server: LocalRealtimeServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        reply = await http.post(
            "/v1/realtime/sessions",
            json={"instructions": "Answer: ok", "client_secret": {"expires_at": {"anchor": "created_at"}}},
        )
    assert reply.status_code == 200, reply.text
    assert reply.json()["client_secret"]["value"].startswith("ek_")
    assert await _events_on(server, "beta") == ["session.created"]


async def test_a_declared_huge_body_is_refused_before_it_is_read(server: LocalRealtimeServer) -> None:
    head = (
        "POST /v1/realtime/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {300 * 1024 * 1024}\r\n\r\n"
    )

    def post_head() -> bytes:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(head.encode() + b"{")
            return sock.recv(4096).split(b"\r\n", 1)[0]

    assert b" 413 " in await asyncio.to_thread(post_head)


async def test_a_streamed_body_is_refused_once_it_passes_the_cap(server: LocalRealtimeServer) -> None:
    async def chunks() -> Any:
        yield b'{"instructions": "'
        for _ in range(64):
            yield b"x" * 65536  # 4 MiB in all, with no length declared (chunked)
        yield b'"}'

    async with httpx.AsyncClient(base_url=server.url) as http:
        reply = await http.post("/v1/realtime/client_secrets", content=chunks())
    assert reply.status_code == 413
    assert reply.json()["error"]["code"] == "request_body_too_large"

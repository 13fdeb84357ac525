"""Connecting: shapes, subprotocols, keys (server and ephemeral), refusals like OpenAI's, REST, health."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets
from openai.types.beta.realtime import SessionCreateResponse
from openai.types.realtime import ClientSecretCreateResponse
from pydantic import TypeAdapter

from voxpipe.server import LocalRealtimeServer, ServerConfig

from ._support import validate

pytestmark = pytest.mark.timeout(20)

KEY = "sk-handshake-key-0123456789"


@pytest.fixture
async def keyed() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test", api_key=KEY)) as running:
        yield running


async def first_event_and_close(
    url: str, **kwargs: object
) -> tuple[dict[str, object], int | None, str | None]:
    async with websockets.connect(url, **kwargs) as ws:  # type: ignore[arg-type]
        event = json.loads(await ws.recv())
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        return event, ws.close_code, ws.close_reason


async def test_wrong_key_gets_error_then_close_3000(keyed: LocalRealtimeServer) -> None:
    event, code, reason = await first_event_and_close(
        keyed.realtime_url + "?model=gpt-realtime",
        additional_headers={"Authorization": "Bearer sk-wrong-0000000"},
    )
    validate("ga", json.dumps(event))
    assert event["error"]["code"] == "invalid_api_key"  # type: ignore[index]
    assert KEY not in json.dumps(event) and "sk-wrong-0000000" not in json.dumps(event)
    assert (code, reason) == (3000, "invalid_request_error.invalid_api_key")


async def test_missing_key_gets_null_code_and_close_3000(keyed: LocalRealtimeServer) -> None:
    event, code, reason = await first_event_and_close(keyed.realtime_url + "?model=gpt-realtime")
    assert event["error"]["code"] is None  # type: ignore[index]
    assert event["error"]["message"] == "Missing bearer or basic authentication in header"  # type: ignore[index]
    assert (code, reason) == (3000, "invalid_request_error")


async def test_ga_without_model_gets_close_4000(server: LocalRealtimeServer) -> None:
    event, code, reason = await first_event_and_close(server.realtime_url)
    assert event["error"]["code"] == "missing_model"  # type: ignore[index]
    assert (code, reason) == (4000, "invalid_request_error.missing_model")


@pytest.mark.parametrize(
    ("protocols", "headers", "shape"),
    [
        (["realtime", f"openai-insecure-api-key.{KEY}", "openai-beta.realtime-v1"], {}, "beta"),
        (["realtime", f"openai-insecure-api-key.{KEY}"], {}, "ga"),
        (None, {"api-key": KEY, "OpenAI-Beta": "realtime=v1"}, "beta"),
        (None, {"Authorization": f"Bearer {KEY}"}, "ga"),
    ],
)
async def test_key_locations_and_shape(
    keyed: LocalRealtimeServer, protocols: list[str] | None, headers: dict[str, str], shape: str
) -> None:
    async with websockets.connect(
        keyed.realtime_url + "?model=gpt-realtime",
        subprotocols=protocols,
        additional_headers=headers,  # type: ignore[arg-type]
    ) as ws:
        assert ws.subprotocol == ("realtime" if protocols else None)
        created = validate(shape, await ws.recv())
    assert created["type"] == "session.created"
    assert ("audio" in created["session"]) == (shape == "ga")


@pytest.mark.parametrize("shape", ["beta", "ga"])
async def test_ephemeral_key_carries_its_session(keyed: LocalRealtimeServer, shape: str) -> None:
    async with httpx.AsyncClient(base_url=keyed.url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        if shape == "beta":
            reply = await http.post(
                "/v1/realtime/sessions", json={"instructions": "Answer: minted", "voice": "sage"}
            )
            assert reply.status_code == 200
            TypeAdapter(SessionCreateResponse).validate_python(reply.json())
            secret = reply.json()["client_secret"]["value"]
            assert reply.json()["voice"] == "sage"
        else:
            reply = await http.post(
                "/v1/realtime/client_secrets",
                json={
                    "expires_after": {"anchor": "created_at", "seconds": 60},
                    "session": {"instructions": "Answer: minted"},
                },
            )
            assert reply.status_code == 200
            TypeAdapter(ClientSecretCreateResponse).validate_python(reply.json())
            secret = reply.json()["value"]
        assert secret.startswith("ek_")
        denied = await http.post("/v1/realtime/sessions", json={}, headers={"Authorization": "Bearer nope"})
        assert denied.status_code == 401
        invalid = await http.post("/v1/realtime/sessions", json={"temperature": 5.0})
        assert invalid.status_code == 400 and invalid.json()["error"]["code"] == "decimal_above_max_value"
    headers = {"Authorization": f"Bearer {secret}"}
    if shape == "beta":
        headers["OpenAI-Beta"] = "realtime=v1"
    async with websockets.connect(
        keyed.realtime_url + "?model=gpt-realtime", additional_headers=headers
    ) as ws:
        created = validate(shape, await ws.recv())
        assert created["session"]["instructions"] == "Answer: minted"


async def test_health(server: LocalRealtimeServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        reply = await http.get("/health")
    assert reply.json() == {"status": "ok", "sessions": 0, "engines": "test"}


async def test_server_stop_closes_open_sessions() -> None:
    running = LocalRealtimeServer(ServerConfig(port=0, engines="test"))
    await running.start()
    async with websockets.connect(running.realtime_url + "?model=gpt-realtime") as ws:
        await ws.recv()
        await running.aclose()
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 1012  # uvicorn's "service restart" on shutdown

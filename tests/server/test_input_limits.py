"""Limits checked before the protocol models: each breach gets one ``error`` with its code and param, nothing
is echoed back whole, and the session goes on (an ``input_audio_buffer.clear`` round trip after each)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from voxpipe.server import LocalRealtimeServer, ServerLimits

from ._support import RawClient, user_text

pytestmark = pytest.mark.timeout(30)

LIMITS = ServerLimits()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _deep_schema(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"x": schema}}
    return schema


def _tool(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "function", "name": name, "parameters": {"type": "object", "properties": {}}, **extra}


CASES: list[tuple[str, Any, str, str | None]] = [
    (
        "deep json beyond recursion",
        '{"type": "session.update", "session": {"metadata": ' + _nested(100_000) + "}}",
        "invalid_event",
        None,
    ),
    (
        "deep json within recursion",
        '{"type": "session.update", "session": {"metadata": ' + _nested(LIMITS.max_json_depth) + "}}",
        "invalid_event",
        None,
    ),
    (
        "nested tool schema",
        {"type": "session.update", "session": {"tools": [_tool("f", parameters=_deep_schema(20))]}},
        "invalid_event",
        None,
    ),
    (
        "too many values",
        {"type": "session.update", "session": {"metadata": {"k": list(range(LIMITS.max_json_values))}}},
        "invalid_event",
        None,
    ),
    (
        "long event_id",
        {"type": "input_audio_buffer.clear", "event_id": "e" * 100_000},
        "string_above_max_length",
        "event_id",
    ),
    (
        "long item id",
        {**user_text("x"), "item": {**user_text("x")["item"], "id": "i" * (LIMITS.max_id_chars + 1)}},
        "string_above_max_length",
        "item.id",
    ),
    (
        "long item_id",
        {"type": "conversation.item.retrieve", "item_id": "i" * 10_000},
        "string_above_max_length",
        "item_id",
    ),
    (
        "long previous_item_id",
        {**user_text("x"), "previous_item_id": "p" * 10_000},
        "string_above_max_length",
        "previous_item_id",
    ),
    (
        "long response_id",
        {"type": "response.cancel", "response_id": "r" * 10_000},
        "string_above_max_length",
        "response_id",
    ),
    (
        "long instructions",
        {"type": "session.update", "session": {"instructions": "x" * (LIMITS.max_instructions_chars + 1)}},
        "string_above_max_length",
        "session.instructions",
    ),
    (
        "long response instructions",
        {"type": "response.create", "response": {"instructions": "x" * (LIMITS.max_instructions_chars + 1)}},
        "string_above_max_length",
        "response.instructions",
    ),
    (
        "too many tools",
        {
            "type": "session.update",
            "session": {"tools": [_tool(f"f{i}") for i in range(LIMITS.max_tools + 1)]},
        },
        "array_above_max_length",
        "session.tools",
    ),
    (
        "huge tool",
        {
            "type": "session.update",
            "session": {"tools": [_tool("f", description="d" * LIMITS.max_tool_chars)]},
        },
        "string_above_max_length",
        "session.tools[0]",
    ),
]


@pytest.mark.parametrize(("name", "event", "code", "param"), CASES, ids=[case[0] for case in CASES])
@pytest.mark.parametrize("shape", ["beta", "ga"])
async def test_each_breach_gets_one_error_and_the_session_goes_on(
    server: LocalRealtimeServer, shape: str, name: str, event: Any, code: str, param: str | None
) -> None:
    if shape == "ga" and isinstance(event, dict) and event["type"] == "session.update":
        event = {**event, "session": {"type": "realtime", **event["session"]}}
    client = await RawClient.connect(server.realtime_url, shape)
    try:
        await client.recv_until("session.created")
        await client.send(event)
        error = await client.recv()
        assert error["type"] == "error", error
        assert (error["error"]["code"], error["error"]["param"]) == (code, param)
        assert error["error"]["event_id"] is None  # nothing the client sent comes back whole
        assert len(json.dumps(error)) < 2000
        await client.send({"type": "input_audio_buffer.clear"})
        assert (await client.recv())["type"] == "input_audio_buffer.cleared"
    finally:
        await client.aclose()


async def test_limits_are_what_the_server_is_configured_with() -> None:
    from voxpipe.server import ServerConfig

    limits = ServerLimits(max_event_id_chars=8, max_tools=1)
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test", limits=limits)) as server:
        client = await RawClient.connect(server.realtime_url, "beta")
        try:
            await client.recv_until("session.created")
            await client.send({"type": "input_audio_buffer.clear", "event_id": "12345678"})
            assert (await client.recv())["type"] == "input_audio_buffer.cleared"
            await client.send({"type": "input_audio_buffer.clear", "event_id": "123456789"})
            assert (await client.recv())["error"]["code"] == "string_above_max_length"
            await client.send({"type": "session.update", "session": {"tools": [_tool("a")]}})
            assert (await client.recv())["type"] == "session.updated"
            await client.send({"type": "session.update", "session": {"tools": [_tool("a"), _tool("b")]}})
            assert (await client.recv())["error"]["code"] == "array_above_max_length"
        finally:
            await client.aclose()


async def test_a_full_conversation_is_refused_up_front_without_a_response() -> None:
    from voxpipe.server import ServerConfig

    config = ServerConfig(port=0, engines="test", limits=ServerLimits(max_items=1))
    async with LocalRealtimeServer(config) as server:
        client = await RawClient.connect(server.realtime_url, "beta")
        try:
            await client.recv_until("session.created")
            await client.send({"type": "session.update", "session": {"modalities": ["text"]}})
            await client.recv_until("session.updated")
            await client.send(user_text("hello"))
            await client.recv_until("conversation.item.created")
            await client.send({"type": "response.create", "event_id": "evt_full"})
            error = await client.recv()
            assert error["type"] == "error"
            assert (error["error"]["code"], error["error"]["event_id"]) == (
                "conversation_too_large",
                "evt_full",
            )
            assert await client.quiet(0.3) == []  # no response.created, no output_item.done
        finally:
            await client.aclose()


async def test_a_conversation_filled_by_the_users_turn_fails_the_response_as_a_client_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from voxpipe.server import ServerConfig

    from ._support import chunks, speech

    config = ServerConfig(port=0, engines="test", limits=ServerLimits(max_items=2))
    async with LocalRealtimeServer(config) as server:
        client = await RawClient.connect(server.realtime_url, "beta")
        try:
            await client.recv_until("session.created")
            await client.send(user_text("first"))
            await client.recv_until("conversation.item.created")
            for chunk in chunks(speech("hello")):  # server VAD commits it (2 items: full) and answers
                await client.send({"type": "input_audio_buffer.append", "audio": chunk})
            events = await client.recv_until("response.done")
            kinds = [event["type"] for event in events]
            assert "response.output_item.added" not in kinds
            assert "response.output_item.done" not in kinds
            response = events[-1]["response"]
            assert response["status"] == "failed"
            assert response["status_details"]["error"]["code"] == "conversation_too_large"
            assert response["status_details"]["error"]["type"] == "invalid_request_error"
            assert response["output"] == []
        finally:
            await client.aclose()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]

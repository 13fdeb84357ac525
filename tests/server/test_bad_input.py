"""Bad input: each case gets exactly one ``error`` event with the expected code and param, and the
session goes on (checked by a ``input_audio_buffer.clear`` round trip after every case)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from voxpipe.server import LocalRealtimeServer, ServerConfig, ServerLimits

from ._support import RawClient, user_text

pytestmark = pytest.mark.timeout(20)

LIMITS = ServerLimits(max_message_bytes=64 * 1024, max_append_audio_bytes=16 * 1024, max_buffer_ms=1000)


@pytest.fixture
async def limited() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test", limits=LIMITS)) as running:
        yield running


def _audio(ms: int) -> str:
    return base64.b64encode(b"\x00\x00" * 24 * ms).decode()


CASES: list[tuple[str, Any, str | None, str | None]] = [
    ("not json", "{oops", "invalid_json", None),
    ("json array", "[1, 2]", "invalid_event", None),
    ("no type", {"event_id": "e1"}, "invalid_event", None),
    ("type not string", {"type": 5}, "invalid_event", None),
    ("unknown type", {"type": "nope"}, "invalid_value", "type"),
    ("binary frame", b"\x00\x01", "invalid_event", None),
    ("missing field", {"type": "conversation.item.retrieve"}, "missing_required_parameter", "item_id"),
    (
        "wrong type",
        {"type": "conversation.item.truncate", "item_id": "x", "content_index": "0", "audio_end_ms": 1},
        "invalid_type",
        "content_index",
    ),
    ("unknown parameter", {"type": "input_audio_buffer.clear", "bogus": 1}, "unknown_parameter", "bogus"),
    (
        "bad base64",
        {"type": "input_audio_buffer.append", "audio": "@@@not base64@@@"},
        "invalid_audio",
        "audio",
    ),
    (
        "odd pcm bytes",
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(b"abc").decode()},
        "invalid_audio",
        "audio",
    ),
    (
        "oversized append",
        {"type": "input_audio_buffer.append", "audio": _audio(400)},
        "invalid_audio",
        "audio",
    ),
    (
        "oversized message",
        {"type": "input_audio_buffer.clear", "event_id": "x" * 70_000},
        "message_too_large",
        None,
    ),
    ("commit empty", {"type": "input_audio_buffer.commit"}, "input_audio_buffer_commit_empty", None),
    (
        "truncate unknown item",
        {"type": "conversation.item.truncate", "item_id": "nope", "content_index": 0, "audio_end_ms": 0},
        "item_truncate_invalid_item_id",
        "item_id",
    ),
    ("cancel nothing", {"type": "response.cancel"}, "response_cancel_not_active", None),
    (
        "unknown previous item",
        {**user_text("x"), "previous_item_id": "nope"},
        "item_create_invalid_previous_item_id",
        "previous_item_id",
    ),
    (
        "output without call",
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "call_x", "output": "1"},
        },
        "invalid_call_id",
        "item.call_id",
    ),
    (
        "assistant audio item",
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "audio", "transcript": "x"}],
            },
        },
        "invalid_value",
        "item.content[0].type",
    ),
    (
        "temperature out of range",
        {"type": "session.update", "session": {"temperature": 3.0}},
        "decimal_above_max_value",
        "session.temperature",
    ),
    (
        "bad voice",
        {"type": "session.update", "session": {"voice": "nobody"}},
        "invalid_value",
        "session.voice",
    ),
    (
        "bad conversation",
        {"type": "response.create", "response": {"conversation": "other"}},
        "invalid_value",
        "response.conversation",
    ),
    (
        "unknown input reference",
        {"type": "response.create", "response": {"input": [{"type": "item_reference", "id": "item_nope"}]}},
        "invalid_value",
        "response.input[0].id",
    ),
    ("webrtc only", {"type": "output_audio_buffer.clear"}, "unsupported_transport", "type"),
]


@pytest.mark.parametrize(("name", "event", "code", "param"), CASES, ids=[case[0] for case in CASES])
async def test_each_bad_event_gets_one_error(
    limited: LocalRealtimeServer, name: str, event: Any, code: str, param: str | None
) -> None:
    client = await RawClient.connect(limited.realtime_url, "beta")
    try:
        await client.recv()  # session.created
        if isinstance(event, dict):
            event = {**event, "event_id": event.get("event_id", "evt_bad")}
        await client.send(event)
        error = await client.recv()
        assert error["type"] == "error", error
        assert error["error"]["code"] == code
        assert error["error"]["param"] == param
        assert error["error"]["type"] == "invalid_request_error"
        if isinstance(event, dict) and code not in ("invalid_event", "invalid_json", "message_too_large"):
            assert error["error"]["event_id"] == "evt_bad"
        await client.send({"type": "input_audio_buffer.clear"})
        assert (await client.recv())["type"] == "input_audio_buffer.cleared"
    finally:
        await client.aclose()


async def test_buffer_limit(limited: LocalRealtimeServer) -> None:
    client = await RawClient.connect(limited.realtime_url, "beta")
    await client.recv()
    await client.send({"type": "session.update", "session": {"turn_detection": None}})
    await client.recv_until("session.updated")
    for _ in range(6):
        await client.send({"type": "input_audio_buffer.append", "audio": _audio(150)})
    await client.send({"type": "input_audio_buffer.append", "audio": _audio(150)})
    error = await client.recv()
    assert error["error"]["code"] == "input_audio_buffer_too_large"
    await client.send({"type": "input_audio_buffer.commit"})
    assert (await client.recv())["type"] == "input_audio_buffer.committed"
    await client.aclose()


async def test_second_response_create_while_active(slow_server: LocalRealtimeServer) -> None:
    client = await RawClient.connect(slow_server.realtime_url, "beta")
    await client.recv()
    await client.send({"type": "session.update", "session": {"modalities": ["text"], "turn_detection": None}})
    await client.recv_until("session.updated")
    await client.send(user_text("a long story"))
    await client.send({"type": "response.create"})
    created = await client.recv_until("response.created")
    await client.send({"type": "response.create", "event_id": "evt_second"})
    events = await client.recv_until("error")
    error = events[-1]["error"]
    assert error["code"] == "conversation_already_has_active_response"
    assert created[-1]["response"]["id"] in error["message"]
    assert error["event_id"] == "evt_second"
    # an out-of-band response may run beside it
    await client.send(
        {"type": "response.create", "response": {"conversation": "none", "metadata": {"k": "v"}, "input": []}}
    )
    await client.send({"type": "response.cancel", "response_id": created[-1]["response"]["id"]})
    dones = []
    while len(dones) < 2:
        event = await client.recv()
        if event["type"] == "response.done":
            dones.append(event["response"])
    assert {d["conversation_id"] is None for d in dones} == {True, False}
    assert any(d["metadata"] == {"k": "v"} for d in dones)
    await client.aclose()


async def test_sessions_do_not_see_each_other(server: LocalRealtimeServer) -> None:
    a = await RawClient.connect(server.realtime_url, "ga")
    b = await RawClient.connect(server.realtime_url, "ga")
    await a.recv()
    await b.recv()
    await a.send({**user_text("secret of a"), "item": {**user_text("x")["item"], "id": "item_private"}})
    await a.recv_until("conversation.item.done")
    await b.send({"type": "conversation.item.retrieve", "item_id": "item_private"})
    error = await b.recv()
    assert error["error"]["code"] == "item_retrieve_invalid_item_id"
    assert await b.quiet(0.1) == []
    await a.aclose()
    await b.aclose()


def test_cases_are_json_serialisable() -> None:
    for _, event, _, _ in CASES:
        if isinstance(event, dict):
            json.dumps(event)

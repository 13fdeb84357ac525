"""The official ``openai`` SDK (2.8.0) as the client, beta and GA: every turn kind, every event validated.

Each test connects with ``client.beta.realtime.connect`` (beta) or ``client.realtime.connect`` (GA), drives
the session with the SDK's own resource methods, and reads raw messages that must validate against the
SDK's server-event union (``_support.validate``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from openai import AsyncOpenAI

from voxpipe.server import LocalRealtimeServer
from voxpipe.server.engines.testing import normalize_text

from ._support import SHAPES, WEATHER_TOOL, chunks, names, speech, text_session, validate

pytestmark = pytest.mark.timeout(20)


class SDKSession:
    """An SDK connection plus validated receiving."""

    def __init__(self, conn: Any, shape: str) -> None:
        self.conn = conn
        self.shape = shape

    async def recv(self) -> dict[str, Any]:
        return validate(self.shape, await self.conn.recv_bytes())

    async def until(self, event_type: str) -> list[dict[str, Any]]:
        events = []
        while True:
            event = await self.recv()
            events.append(event)
            if event["type"] == event_type:
                return events


@asynccontextmanager
async def sdk_session(server: LocalRealtimeServer, shape: str) -> AsyncIterator[SDKSession]:
    client = AsyncOpenAI(
        api_key="sk-test", base_url=server.url + "/v1", websocket_base_url=server.websocket_base_url
    )
    manager = (
        client.beta.realtime.connect(model="gpt-4o-realtime-preview")
        if shape == "beta"
        else client.realtime.connect(model="gpt-realtime")
    )
    async with manager as conn:
        session = SDKSession(conn, shape)
        created = await session.recv()
        assert created["type"] == "session.created"
        yield session
    await client.close()


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


@pytest.mark.parametrize("shape", SHAPES)
async def test_text_turn(server: LocalRealtimeServer, shape: str) -> None:
    n = names(shape)
    async with sdk_session(server, shape) as s:
        await s.conn.session.update(session=text_session(shape))
        updated = await s.recv()
        assert updated["type"] == "session.updated"
        await s.conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hello there"}],
            }
        )
        await s.conn.response.create()
        events = await s.until("rate_limits.updated")
    kinds = types(events)
    announce = [n["item_created"], "conversation.item.done"] if shape == "ga" else [n["item_created"]]
    assert kinds[: len(announce) + 3] == [
        *announce,
        "response.created",
        "response.output_item.added",
        n["item_created"],
    ]
    tail = ["response.content_part.done"]
    if shape == "ga":
        tail.append("conversation.item.done")
    tail += ["response.output_item.done", "response.done", "rate_limits.updated"]
    assert kinds[-len(tail) :] == tail
    assert kinds[-len(tail) - 1] == n["text_done"]
    deltas = "".join(e["delta"] for e in events if e["type"] == n["text_delta"])
    assert deltas == "You said: Hello there."
    done = events[-2]["response"]
    assert done["status"] == "completed"
    assert done["usage"]["total_tokens"] == done["usage"]["input_tokens"] + done["usage"]["output_tokens"] > 0
    assert done["output"][0]["content"][0]["text"] == "You said: Hello there."


@pytest.mark.parametrize("shape", SHAPES)
async def test_audio_turn_with_server_vad(server: LocalRealtimeServer, shape: str) -> None:
    n = names(shape)
    said = "What time is it?"
    audio = speech(said, lead_ms=500, tail_ms=600)
    async with sdk_session(server, shape) as s:
        for chunk in chunks(audio):
            await s.conn.input_audio_buffer.append(audio=chunk)
        events = await s.until("rate_limits.updated")
    kinds = types(events)
    start = kinds.index("input_audio_buffer.speech_started")
    user_announce = [n["item_created"], "conversation.item.done"] if shape == "ga" else [n["item_created"]]
    assert kinds[start : start + 7 + len(user_announce)] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        *user_announce,
        "response.created",
        "response.output_item.added",
        n["item_created"],
        "response.content_part.added",
    ]
    started, stopped = events[start], events[start + 1]
    assert started["audio_start_ms"] == 500 - 300  # first loud frame minus prefix padding
    assert stopped["audio_end_ms"] == 500 + 30 * len(normalize_text(said))  # 30 ms per character
    assert started["item_id"] == stopped["item_id"] == events[start + 2]["item_id"]
    assert n["audio_delta"] in kinds and n["transcript_delta"] in kinds
    assert (
        kinds.index(n["audio_done"])
        < kinds.index(n["transcript_done"])
        < kinds.index("response.content_part.done")
    )
    transcript = next(e for e in events if e["type"] == n["transcript_done"])["transcript"]
    assert transcript == "You said: what time is it?"
    audio_out = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == n["audio_delta"])
    assert len(audio_out) > 0 and len(audio_out) % 2 == 0
    done = next(e for e in events if e["type"] == "response.done")["response"]
    assert done["status"] == "completed"
    assert done["usage"]["output_token_details"]["audio_tokens"] > 0


@pytest.mark.parametrize("shape", SHAPES)
async def test_function_call_turn(server: LocalRealtimeServer, shape: str) -> None:
    n = names(shape)
    async with sdk_session(server, shape) as s:
        await s.conn.session.update(session=text_session(shape, tools=[WEATHER_TOOL]))
        await s.until("session.updated")
        await s.conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "What is the weather in Paris?"}],
            }
        )
        await s.conn.response.create()
        first = await s.until("rate_limits.updated")
        kinds = types(first)
        call_start = kinds.index("response.output_item.added")
        assert kinds[call_start : call_start + 2] == ["response.output_item.added", n["item_created"]]
        assert "response.function_call_arguments.delta" in kinds
        args_done = next(e for e in first if e["type"] == "response.function_call_arguments.done")
        assert json.loads(args_done["arguments"]) == {"city": "Paris"}
        assert args_done["name"] == "get_weather"
        done = next(e for e in first if e["type"] == "response.done")["response"]
        assert done["output"][0]["type"] == "function_call"
        assert done["output"][0]["call_id"] == args_done["call_id"]
        await s.conn.conversation.item.create(
            item={"type": "function_call_output", "call_id": args_done["call_id"], "output": '{"temp_c": 21}'}
        )
        await s.conn.response.create()
        second = await s.until("rate_limits.updated")
    text = "".join(e["delta"] for e in second if e["type"] == n["text_delta"])
    assert text == 'The result is {"temp_c": 21}.'


@pytest.mark.parametrize("shape", SHAPES)
async def test_cancel(slow_server: LocalRealtimeServer, shape: str) -> None:
    n = names(shape)
    async with sdk_session(slow_server, shape) as s:
        await s.conn.session.update(session=text_session(shape))
        await s.until("session.updated")
        await s.conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "a long story"}],
            }
        )
        await s.conn.response.create()
        await s.until(n["text_delta"])
        await s.conn.response.cancel()
        events = await s.until("response.done")
        done = events[-1]["response"]
        assert done["status"] == "cancelled"
        assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
        assert done["output"][0]["status"] == "incomplete"
        assert n["text_done"] in types(events)
        assert done["usage"] is not None
        await s.until("rate_limits.updated")
        await s.conn.response.cancel(event_id="evt_again")
        error = await s.recv()
    assert error["type"] == "error"
    assert error["error"]["code"] == "response_cancel_not_active"
    assert error["error"]["event_id"] == "evt_again"


@pytest.mark.parametrize("shape", SHAPES)
async def test_truncate(server: LocalRealtimeServer, shape: str) -> None:
    n = names(shape)
    async with sdk_session(server, shape) as s:
        await s.conn.session.update(
            session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
            if shape == "ga"
            else {"turn_detection": None}
        )
        await s.until("session.updated")
        await s.conn.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
        )
        await s.conn.response.create()
        events = await s.until("rate_limits.updated")
        item_id = next(e for e in events if e["type"] == "response.output_item.added")["item"]["id"]
        audio_bytes = sum(len(base64.b64decode(e["delta"])) for e in events if e["type"] == n["audio_delta"])
        audio_ms = audio_bytes // 48
        await s.conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=audio_ms + 500)
        error = await s.recv()
        assert error["type"] == "error"
        assert error["error"]["code"] is None
        assert (
            error["error"]["message"]
            == f"Audio content of {audio_ms}ms is already shorter than {audio_ms + 500}ms"
        )
        await s.conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=100)
        truncated = await s.recv()
        assert truncated == {
            **truncated,
            "type": "conversation.item.truncated",
            "item_id": item_id,
            "audio_end_ms": 100,
        }
        await s.conn.conversation.item.retrieve(item_id=item_id)
        retrieved = await s.recv()
    assert retrieved["type"] == "conversation.item.retrieved"
    part = retrieved["item"]["content"][0]
    assert len(base64.b64decode(part["audio"])) == 100 * 48
    assert part["transcript"] == ""


@pytest.mark.parametrize("shape", SHAPES)
async def test_item_retrieve_and_delete(server: LocalRealtimeServer, shape: str) -> None:
    n = names(shape)
    async with sdk_session(server, shape) as s:
        await s.conn.conversation.item.create(
            item={
                "id": "item_client_0001",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "remember me"}],
            }
        )
        created = await s.until(n["item_created"])
        assert created[-1]["item"]["id"] == "item_client_0001"
        if shape == "ga":
            await s.until("conversation.item.done")
        await s.conn.conversation.item.retrieve(item_id="item_client_0001")
        retrieved = await s.recv()
        assert retrieved["type"] == "conversation.item.retrieved"
        assert retrieved["item"]["content"][0]["text"] == "remember me"
        await s.conn.conversation.item.delete(item_id="item_client_0001")
        deleted = await s.recv()
        assert deleted["type"] == "conversation.item.deleted"
        assert deleted["item_id"] == "item_client_0001"
        await s.conn.conversation.item.retrieve(item_id="item_client_0001", event_id="rci_item_client_0001")
        error = await s.recv()
        await s.conn.conversation.item.delete(item_id="item_client_0001")
        error2 = await s.recv()
    assert error["error"]["code"] == "item_retrieve_invalid_item_id"
    assert error["error"]["event_id"] == "rci_item_client_0001"
    assert error2["error"]["code"] == "item_delete_invalid_item_id"

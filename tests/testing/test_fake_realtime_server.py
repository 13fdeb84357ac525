"""The scripted fake realtime server, driven by a plain websockets client (so it is tested on its own)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

import voxpipe.testing
from voxpipe.realtime import InputAudioBufferClearedEvent
from voxpipe.testing import (
    ANY,
    FakeRealtimeServer,
    ScriptMismatchError,
    drop,
    expect,
    expect_any_order,
    expect_close,
    next_connection,
    raw,
    reject,
    send,
    wait,
)
from voxpipe.testing._fake_script import diff, split_connections


async def send_json(ws: ClientConnection, **event: Any) -> None:
    await ws.send(json.dumps(event))


async def recv_json(ws: ClientConnection) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), 2))


# --- the script language -----------------------------------------------------------------------------


def test_diff_is_a_nested_subset_match() -> None:
    actual = {"type": "x", "item": {"id": "a", "content": [{"type": "input_text", "text": "hi"}]}, "extra": 1}
    assert diff({"item": {"id": "a"}}, actual) == []
    assert diff({"item": {"content": [{"text": "hi"}]}}, actual) == []
    assert diff({"item": {"id": ANY}, "extra": lambda v: v > 0}, actual) == []
    assert diff({"item": {"id": "b"}}, actual) == ["item.id: expected 'b', got 'a'"]
    assert diff({"missing": 1}, actual) == ["missing: missing (expected 1)"]
    assert diff({"item": {"content": []}}, actual)[0].startswith("item.content: expected []")
    assert diff({"extra": lambda v: v > 5}, actual)[0].startswith("extra: 1 was rejected")


def test_steps_print_readably_and_split_per_connection() -> None:
    script = [expect("a", x=1), send({"type": "b"}), next_connection(), drop(1001, "bye"), wait(0.5)]
    assert [str(s) for s in script] == [
        "expect('a', x=1)", "send('b')", "next_connection()", "drop(code=1001, reason='bye')", "wait(0.5)"
    ]
    assert [len(part) for part in split_connections(script)] == [2, 2]


def test_exports_resolve() -> None:
    for name in voxpipe.testing.__all__:
        assert getattr(voxpipe.testing, name) is not None
    with pytest.raises(AttributeError):
        voxpipe.testing.does_not_exist  # noqa: B018


# --- playing scripts -----------------------------------------------------------------------------------


async def test_greets_plays_and_records_the_handshake() -> None:
    script = [
        expect("session.update", session={"voice": "alloy"}),
        send({"type": "session.updated", "session": {"voice": "alloy"}}),
        raw("not json"),
        raw(b"\x00\x01"),
        expect_close(),
    ]
    async with FakeRealtimeServer(script) as server, connect(
        server.url + "?model=m1",
        additional_headers={"Authorization": "Bearer k", "OpenAI-Beta": "realtime=v1"},
        subprotocols=["realtime", "openai-beta.realtime-v1"],  # type: ignore[list-item]
    ) as ws:
        assert ws.subprotocol == "realtime"
        created = await recv_json(ws)
        assert created["type"] == "session.created" and created["session"]["model"] == "m1"
        assert created["event_id"].startswith("event_")
        await send_json(ws, type="session.update", session={"voice": "alloy", "speed": 1.1})
        updated = await recv_json(ws)
        assert updated["type"] == "session.updated" and updated["event_id"]
        assert await ws.recv() == "not json"
        assert await ws.recv() == b"\x00\x01"
    handshake = server.connections[0].handshake
    assert handshake.path == "/v1/realtime" and handshake.query == {"model": "m1"}
    assert handshake.headers["authorization"] == "Bearer k"
    assert handshake.headers["openai-beta"] == "realtime=v1"
    assert handshake.subprotocols == ["realtime", "openai-beta.realtime-v1"]
    assert server.received("session.update")[0]["session"]["speed"] == 1.1


async def test_mismatch_gives_a_readable_diff() -> None:
    server = FakeRealtimeServer([expect("response.create", response={"modalities": ["text"]})], greet=False)
    async with server, connect(server.url) as ws:
        await send_json(ws, type="response.create", response={"modalities": ["audio"]})
        with pytest.raises(ScriptMismatchError) as info:
            await server.assert_done(timeout=2)
    message = str(info.value)
    assert "connection 1, step 1 expect('response.create', response={'modalities': ['text']})" in message
    assert '"modalities": ["audio"]' in message
    assert "response.modalities[0]: expected 'text', got 'audio'" in message


async def test_unexpected_event_after_the_script_fails() -> None:
    server = FakeRealtimeServer([expect("a")], greet=False)
    with pytest.raises(ScriptMismatchError, match="unexpected client event after the script"):
        async with server, connect(server.url) as ws:
            await send_json(ws, type="a")
            await send_json(ws, type="surprise")
            await asyncio.sleep(0.1)


async def test_unused_steps_and_missing_connections_are_reported() -> None:
    server = FakeRealtimeServer([expect("a"), expect("b"), next_connection(), expect("c")], greet=False)
    async with server:
        async with connect(server.url) as ws:
            await send_json(ws, type="a")
            await asyncio.sleep(0.05)
        with pytest.raises(ScriptMismatchError) as info:
            await server.assert_done(timeout=0.2)
    assert "connection 1: steps never reached: expect('b')" in str(info.value)
    assert "connection 2 never opened; unused steps: expect('c')" in str(info.value)


async def test_extra_connection_is_refused_and_reported() -> None:
    server = FakeRealtimeServer([expect_close()], greet=False)
    async with server:
        async with connect(server.url):
            pass
        with pytest.raises(InvalidStatus):
            async with connect(server.url):
                pass
        with pytest.raises(ScriptMismatchError, match="connection 2 was not in the script"):
            await server.assert_done(timeout=1)


async def test_expect_any_order_and_ignored_types() -> None:
    script = [expect_any_order(expect("b"), expect("a", n=1)), expect("c"), expect_close()]
    async with (
        FakeRealtimeServer(script, greet=False, ignore=["input_audio_buffer.append"]) as server,
        connect(server.url) as ws,
    ):
        await send_json(ws, type="b")
        await send_json(ws, type="input_audio_buffer.append", audio="AAAA")
        await send_json(ws, type="a", n=1)
        await send_json(ws, type="c")
    assert [e["type"] for e in server.received()] == ["b", "input_audio_buffer.append", "a", "c"]


async def test_auto_session_updated_merges_each_update() -> None:
    script = [expect("response.create"), expect_close()]
    async with FakeRealtimeServer(script, auto_session_updated=True) as server, connect(server.url) as ws:
        created = await recv_json(ws)
        update = {"turn_detection": {"silence_duration_ms": 800}}
        await send_json(ws, type="session.update", session=update)
        updated = await recv_json(ws)
        turn = updated["session"]["turn_detection"]
        assert turn["silence_duration_ms"] == 800 and turn["threshold"] == 0.5
        assert updated["session"]["id"] == created["session"]["id"]
        await send_json(ws, type="response.create")


async def test_ga_greeting() -> None:
    async with FakeRealtimeServer([expect_close()], shape="ga") as server, connect(server.url) as ws:
        session = (await recv_json(ws))["session"]
    assert session["type"] == "realtime" and session["audio"]["output"]["format"]["rate"] == 24000


@pytest.mark.parametrize(("step", "code"), [(drop(), 1006), (drop(1001, "going away"), 1001)])
async def test_drop_with_and_without_a_close_frame(step: Any, code: int) -> None:
    async with FakeRealtimeServer([step, next_connection(), reject(503)], greet=False) as server:
        async with connect(server.url) as ws:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 2)
            assert ws.close_code == code
        with pytest.raises(InvalidStatus) as info:
            async with connect(server.url):
                pass
        assert info.value.response.status_code == 503


async def test_expect_times_out_instead_of_hanging() -> None:
    server = FakeRealtimeServer([expect("never")], greet=False, expect_timeout=0.1)
    async with server, connect(server.url):
        with pytest.raises(ScriptMismatchError, match=r"nothing came within 0\.1 s"):
            await server.assert_done(timeout=2)


async def test_stop_cancels_a_waiting_script() -> None:
    server = FakeRealtimeServer([wait(30)], greet=False)
    await server.start()
    async with connect(server.url):
        await asyncio.sleep(0.05)
        await asyncio.wait_for(server.stop(), 3)
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_send_accepts_typed_events_and_keyword_fields() -> None:
    typed = send(InputAudioBufferClearedEvent())
    script = [typed, send(type="rate_limits.updated", rate_limits=[]), expect_close()]
    async with FakeRealtimeServer(script, greet=False) as server, connect(server.url) as ws:
        first, second = await recv_json(ws), await recv_json(ws)
    assert first["type"] == "input_audio_buffer.cleared" and first["event_id"]
    assert second == {"type": "rate_limits.updated", "rate_limits": [], "event_id": second["event_id"]}

"""RealtimeClient on one connection: ordering, typed events, bad frames, error verdicts, closing."""

from __future__ import annotations

import asyncio
import logging

import pytest

from voxpipe.errors import OperationTimeoutError, VoxpipeStateError, VoxpipeUsageError
from voxpipe.realtime import ResponseCreateEvent, UnknownServerEvent
from voxpipe.realtime.client import (
    ClientState,
    MalformedFrame,
    MalformedFrameError,
    RealtimeClient,
    RealtimeClientConfig,
    RealtimeServerError,
    ReconnectPolicy,
)
from voxpipe.testing import FakeRealtimeServer, expect, expect_close, raw, send

KEY = "sk-test-session-0123456789abcdef"


def config(url: str, **overrides: object) -> RealtimeClientConfig:
    values: dict[str, object] = {
        "api_key": KEY,
        "base_url": url,
        "open_timeout": 2.0,
        "close_timeout": 1.0,
        "reconnect": ReconnectPolicy(max_attempts=0),
    }
    values.update(overrides)
    return RealtimeClientConfig(**values)  # type: ignore[arg-type]


async def test_send_and_receive_in_order() -> None:
    script = [
        expect("session.update", session={"voice": "alloy"}),
        expect("response.create"),
        send(
            {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress", "output": []}}
        ),
        send({"type": "rate_limits.updated", "rate_limits": []}),
        expect_close(),
    ]
    async with FakeRealtimeServer(script) as server, RealtimeClient(config(server.url)) as client:
        client.send({"type": "session.update", "session": {"voice": "alloy"}})
        client.send(ResponseCreateEvent())
        types = [(await client.recv(timeout=2)).type for _ in range(3)]
        assert types == ["session.created", "response.created", "rate_limits.updated"]


async def test_thousand_sends_keep_their_order() -> None:
    count = 1000
    script = [expect("conversation.item.create", item={"id": f"i{n}"}) for n in range(count)]
    async with (
        FakeRealtimeServer([*script, expect_close()], expect_timeout=5) as server,
        RealtimeClient(config(server.url)) as client,
    ):
        for n in range(count):
            client.send({"type": "conversation.item.create", "item": {"id": f"i{n}"}})
        await client.flush(timeout=10)
        assert client.pending == 0
    assert [e["item"]["id"] for e in server.received()] == [f"i{n}" for n in range(count)]


async def test_sends_queued_before_connect_go_out_first() -> None:
    async with FakeRealtimeServer([expect("input_audio_buffer.clear"), expect_close()]) as server:
        client = RealtimeClient(config(server.url))
        client.send({"type": "input_audio_buffer.clear"})
        async with client:
            await client.flush(timeout=2)


async def test_unknown_event_is_kept_and_session_goes_on() -> None:
    script = [
        send({"type": "brand_new.event", "payload": {"x": 1}}),
        send({"type": "input_audio_buffer.cleared"}),
        expect_close(),
    ]
    async with FakeRealtimeServer(script) as server, RealtimeClient(config(server.url)) as client:
        await client.recv(timeout=2)  # session.created
        unknown = await client.recv(timeout=2)
        assert isinstance(unknown, UnknownServerEvent)
        assert unknown.raw["payload"] == {"x": 1}
        assert (await client.recv(timeout=2)).type == "input_audio_buffer.cleared"


@pytest.mark.parametrize(
    ("frame", "code", "binary"),
    [
        ("this is not json", "invalid_json", False),
        (b"\x00\x01binary", "binary_frame", True),
        ('["a list"]', "invalid_event", False),
        ('{"no_type": 1}', "invalid_event", False),
    ],
)
async def test_malformed_frames_do_not_kill_the_session(frame: str | bytes, code: str, binary: bool) -> None:
    script = [
        raw(frame),
        send({"type": "input_audio_buffer.cleared"}),
        expect("response.create"),
        expect_close(),
    ]
    async with FakeRealtimeServer(script) as server, RealtimeClient(config(server.url)) as client:
        await client.recv(timeout=2)  # session.created
        notice = await client.recv(timeout=2)
        assert isinstance(notice, MalformedFrame)
        assert notice.type == "voxpipe.malformed_frame"
        assert isinstance(notice.error, MalformedFrameError)
        assert notice.error.code == code and notice.error.recoverable
        assert notice.binary is binary and notice.size == len(frame)
        assert (await client.recv(timeout=2)).type == "input_audio_buffer.cleared"
        client.send({"type": "response.create"})
        await client.flush(timeout=2)
        assert client.state is ClientState.CONNECTED


async def test_recoverable_error_keeps_the_session() -> None:
    error = {"type": "invalid_request_error", "code": "response_cancel_not_active", "message": "no response"}
    script = [expect("response.cancel"), send({"type": "error", "error": error}), expect("response.create")]
    async with (
        FakeRealtimeServer([*script, expect_close()]) as server,
        RealtimeClient(config(server.url)) as client,
    ):
        await client.recv(timeout=2)
        client.send({"type": "response.cancel"})
        event = await client.recv(timeout=2)
        assert event.type == "error" and event.error.code == "response_cancel_not_active"
        client.send({"type": "response.create"})
        await client.flush(timeout=2)
        assert client.state is ClientState.CONNECTED


async def test_fatal_error_ends_the_stream_with_a_server_error() -> None:
    error = {
        "type": "insufficient_quota",
        "code": "insufficient_quota",
        "message": "You exceeded your quota.",
    }
    async with FakeRealtimeServer([send({"type": "error", "error": error}), expect_close()]) as server:
        client = RealtimeClient(config(server.url, reconnect=ReconnectPolicy(max_attempts=3)))
        await client.connect()
        seen = []
        with pytest.raises(RealtimeServerError, match="insufficient_quota") as info:
            async for event in client:
                seen.append(event.type)
        assert seen == ["session.created", "error"]
        assert info.value.classification.fatal and not info.value.recoverable
        assert client.state is ClientState.CLOSED
        await client.close()
    assert len(server.connections) == 1  # fatal: no reconnect attempt


async def test_close_is_idempotent_and_leaves_no_task() -> None:
    async with FakeRealtimeServer([expect_close()]) as server:
        client = RealtimeClient(config(server.url))
        await client.connect()
        assert any(t.get_name().startswith("RealtimeClient") for t in asyncio.all_tasks())
        await asyncio.gather(client.close(), client.close())
        await client.close()
        assert client.state is ClientState.CLOSED
        assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("RealtimeClient")]
        assert [event.type async for event in client] == ["session.created"]  # read before close: kept
        with pytest.raises(StopAsyncIteration):
            await client.__anext__()
        with pytest.raises(VoxpipeStateError, match="closed"):
            await client.recv()


async def test_close_before_connect() -> None:
    client = RealtimeClient(RealtimeClientConfig())
    await client.close()
    assert client.state is ClientState.CLOSED


async def test_send_after_close_and_bad_events_are_rejected() -> None:
    async with FakeRealtimeServer([expect_close()]) as server:
        client = RealtimeClient(config(server.url))
        async with client:
            with pytest.raises(VoxpipeUsageError):
                client.send({"no": "type"})
            with pytest.raises(VoxpipeUsageError):
                client.send({"type": "x", "blob": object()})
        with pytest.raises(VoxpipeStateError, match="closed"):
            client.send({"type": "response.create"})


async def test_recv_timeout_names_what_was_awaited() -> None:
    async with FakeRealtimeServer([expect_close()]) as server, RealtimeClient(config(server.url)) as client:
        await client.recv(timeout=2)
        with pytest.raises(OperationTimeoutError, match=r"no server event within 0\.05 s"):
            await client.recv(timeout=0.05)


async def test_state_moves_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="voxpipe.realtime.client")
    async with FakeRealtimeServer([expect_close()]) as server, RealtimeClient(config(server.url)):
        pass
    moves = [r.getMessage().split(": ", 1)[1] for r in caplog.records if "->" in r.getMessage()]
    assert moves == [
        "idle -> connecting",
        "connecting -> connected",
        "connected -> closing",
        "closing -> closed",
    ]


async def test_close_from_another_task_stops_a_pending_connect() -> None:
    async with FakeRealtimeServer([expect_close()], greet=False) as server:
        client = RealtimeClient(config(server.url, session_created_timeout=30))
        connecting = asyncio.create_task(client.connect())
        await asyncio.sleep(0.1)
        async with asyncio.timeout(2):
            await client.close()
            with pytest.raises(VoxpipeStateError, match="closed while connecting"):
                await connecting
        assert client.state is ClientState.CLOSED
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_close_ends_a_waiting_iteration() -> None:
    async with FakeRealtimeServer([expect_close()]) as server:
        client = RealtimeClient(config(server.url))
        await client.connect()

        async def consume() -> list[str]:
            return [event.type async for event in client]

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        await client.close()
        assert await asyncio.wait_for(consumer, 2) == ["session.created"]

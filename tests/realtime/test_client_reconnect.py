"""RealtimeClient across connections: reconnect with replay, no lost or doubled sends, rotation, giving up."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from voxpipe.errors import ConnectionFailedError
from voxpipe.realtime.client import (
    ClientState,
    ConnectionInfo,
    ConnectionLost,
    ConnectReason,
    RealtimeClient,
    RealtimeClientConfig,
    RealtimeServerError,
    RealtimeVariant,
    Reconnected,
    ReconnectExhaustedError,
    ReconnectPolicy,
    SessionExpiredError,
)
from voxpipe.testing import (
    FakeRealtimeServer,
    drop,
    expect,
    expect_close,
    next_connection,
    reject,
    send,
    wait,
)

KEY = "sk-test-reconnect-0123456789abcdef"
FAST = ReconnectPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)


def config(url: str, **overrides: Any) -> RealtimeClientConfig:
    values: dict[str, Any] = {"api_key": KEY, "base_url": url, "close_timeout": 1.0, "reconnect": FAST}
    values.update(overrides)
    return RealtimeClientConfig(**values)


class Replayer:
    """An on_connected hook that replays the session config and remembers why it ran."""

    def __init__(self) -> None:
        self.reasons: list[ConnectReason] = []
        self.greetings: list[str] = []

    async def __call__(self, info: ConnectionInfo) -> None:
        self.reasons.append(info.reason)
        self.greetings.append(info.session_created.type)
        await info.send({"type": "session.update", "session": {"instructions": "be brief"}})


async def next_of(client: RealtimeClient, kind: type[Any]) -> Any:
    while True:
        event = await client.recv(timeout=3)
        if isinstance(event, kind):
            return event


def item(n: int) -> dict[str, Any]:
    return {"type": "conversation.item.create", "item": {"id": f"e{n}"}}


def expect_item(n: int) -> Any:
    return expect("conversation.item.create", item={"id": f"e{n}"})


def test_backoff_grows_caps_and_jitters() -> None:
    policy = ReconnectPolicy(base_delay=1.0, max_delay=5.0, jitter=0.5)
    rng = random.Random(7)
    delays = [policy.delay(n, rng) for n in range(1, 7)]
    ceilings = [1, 2, 4, 5, 5, 5]
    assert all(c * 0.5 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert ReconnectPolicy(jitter=0).delay(3, rng) == 2.0


async def test_reconnect_replays_then_flushes_without_loss_or_duplicates() -> None:
    replay = expect("session.update", session={"instructions": "be brief"})
    script = [
        replay, expect_item(1), expect_item(2), expect_item(3), drop(),
        next_connection(),
        replay, expect_item(4), expect_item(5), expect_item(6), expect_close(),
    ]
    hook = Replayer()
    slow_enough_to_queue = ReconnectPolicy(max_attempts=3, base_delay=0.2, max_delay=0.2, jitter=0)
    async with (
        FakeRealtimeServer(script) as server,
        RealtimeClient(config(server.url, reconnect=slow_enough_to_queue), on_connected=hook) as c,
    ):
        for n in (1, 2, 3):
            c.send(item(n))
        await c.flush(timeout=2)
        lost = await next_of(c, ConnectionLost)
        assert lost.next is ConnectReason.RECONNECT and c.state is ClientState.RECONNECTING
        for n in (4, 5, 6):
            c.send(item(n))  # queued while the link is down
        back = await next_of(c, Reconnected)
        assert (back.reason, back.connection, back.attempts) == (ConnectReason.RECONNECT, 2, 1)
        assert back.pending == 3
        await c.flush(timeout=2)
    assert hook.reasons == [ConnectReason.INITIAL, ConnectReason.RECONNECT]
    assert hook.greetings == ["session.created", "session.created"]
    sent = [[e.get("item", {}).get("id", e["type"]) for e in conn.received] for conn in server.connections]
    assert sent == [["session.update", "e1", "e2", "e3"], ["session.update", "e4", "e5", "e6"]]


async def test_event_whose_write_failed_is_resent_exactly_once(monkeypatch: pytest.MonkeyPatch) -> None:
    real_send = ClientConnection.send
    failed: list[str] = []

    async def send_failing_once(self: ClientConnection, message: Any, text: bool | None = None) -> None:
        if isinstance(message, str) and '"e2"' in message and not failed:
            failed.append(message)
            self.transport.abort()  # the link dies while this frame is being written
            raise ConnectionClosed(None, None)
        await real_send(self, message, text=text)

    monkeypatch.setattr(ClientConnection, "send", send_failing_once)
    script = [
        expect_item(1), expect_close(), next_connection(), expect_item(2), expect_item(3), expect_close()
    ]
    async with FakeRealtimeServer(script) as server, RealtimeClient(config(server.url)) as client:
        for n in (1, 2, 3):
            client.send(item(n))
        back = await next_of(client, Reconnected)
        assert back.pending == 2  # e2 (failed mid-write) and e3
        await client.flush(timeout=2)
    assert len(failed) == 1
    assert [e["item"]["id"] for e in server.received()] == ["e1", "e2", "e3"]


async def test_gives_up_after_max_attempts_with_a_clear_error() -> None:
    script = [drop(), next_connection(), reject(503), next_connection(), reject(503)]
    policy = ReconnectPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01)
    async with FakeRealtimeServer(script) as server:
        client = RealtimeClient(config(server.url, reconnect=policy))
        await client.connect()
        with pytest.raises(ReconnectExhaustedError, match="2 reconnect attempts failed") as info:
            async for _ in client:
                pass
        assert info.value.code == "http_503"
        assert client.state is ClientState.CLOSED
        await client.close()
    assert len(server.connections) == 3


async def test_reconnect_stops_at_a_non_retryable_refusal() -> None:
    script = [drop(), next_connection(), reject(401)]
    async with FakeRealtimeServer(script) as server:
        policy = ReconnectPolicy(max_attempts=5, base_delay=0.01)
        client = RealtimeClient(config(server.url, reconnect=policy))
        await client.connect()
        with pytest.raises(ConnectionFailedError, match="HTTP 401") as info:
            async for _ in client:
                pass
        assert not isinstance(info.value, ReconnectExhaustedError)
        await client.close()


async def test_reconnect_off_ends_the_stream() -> None:
    async with FakeRealtimeServer([drop()]) as server:
        client = RealtimeClient(config(server.url, reconnect=ReconnectPolicy(max_attempts=0)))
        await client.connect()
        with pytest.raises(ReconnectExhaustedError, match="reconnecting is off"):
            async for _ in client:
                pass


async def test_beta_session_expired_rotates_to_a_fresh_session() -> None:
    expired = {"type": "invalid_request_error", "code": "session_expired",
               "message": "Your session hit the maximum duration of 30 minutes."}
    script = [
        expect("session.update"), send({"type": "error", "error": expired}), expect_close(),
        next_connection(),
        expect("session.update"), expect_item(1), expect_close(),
    ]
    hook = Replayer()
    async with (
        FakeRealtimeServer(script) as server,
        RealtimeClient(config(server.url), on_connected=hook) as client,
    ):
        seen = []
        while not seen or seen[-1] != "voxpipe.reconnected":
            seen.append((await client.recv(timeout=3)).type)
        assert seen == ["session.created", "error", "voxpipe.connection_lost", "session.created",
                        "voxpipe.reconnected"]
        client.send(item(1))
        await client.flush(timeout=2)
    assert hook.reasons == [ConnectReason.INITIAL, ConnectReason.ROTATION]


async def test_ga_close_1001_at_time_limit_rotates() -> None:
    reason = "Your session hit the maximum duration of 60 minutes."
    script = [drop(1001, reason), next_connection(), expect("session.update"), expect_close()]
    hook = Replayer()
    async with FakeRealtimeServer(script, shape="ga") as server:
        cfg = config(server.url, variant=RealtimeVariant.OPENAI_GA)
        async with RealtimeClient(cfg, on_connected=hook) as client:
            lost = await next_of(client, ConnectionLost)
            assert (lost.code, lost.next) == (1001, ConnectReason.ROTATION)
            back = await next_of(client, Reconnected)
            assert back.reason is ConnectReason.ROTATION
    assert hook.reasons[-1] is ConnectReason.ROTATION


async def test_session_expired_without_rotation_is_an_error() -> None:
    expired = {"type": "invalid_request_error", "code": "session_expired", "message": "maximum duration"}
    async with FakeRealtimeServer([send({"type": "error", "error": expired}), expect_close()]) as server:
        client = RealtimeClient(config(server.url, rotate_on_expiry=False))
        await client.connect()
        with pytest.raises(SessionExpiredError, match="session_expired"):
            async for _ in client:
                pass
        await client.close()


async def test_fatal_close_code_mid_session_does_not_reconnect() -> None:
    async with FakeRealtimeServer([drop(4000, "invalid_request_error.invalid_model")]) as server:
        client = RealtimeClient(config(server.url))
        await client.connect()
        with pytest.raises(RealtimeServerError, match="invalid_model") as info:
            async for _ in client:
                pass
        assert info.value.code == "invalid_model"
        await client.close()
    assert len(server.connections) == 1


async def test_close_during_backoff_stops_at_once() -> None:
    slow = ReconnectPolicy(max_attempts=3, base_delay=30, max_delay=30, jitter=0)
    async with FakeRealtimeServer([drop()]) as server:
        client = RealtimeClient(config(server.url, reconnect=slow))
        await client.connect()
        await next_of(client, ConnectionLost)
        async with asyncio.timeout(2):
            await client.close()
        assert client.state is ClientState.CLOSED
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_link_dropping_during_replay_replays_again() -> None:
    script = [
        drop(),
        next_connection(),
        wait(0.05), drop(),  # dies while the hook is still waiting
        next_connection(),
        expect("session.update"), expect_close(),
    ]
    reasons: list[ConnectReason] = []
    stuck = asyncio.Event()

    async def hook(info: ConnectionInfo) -> None:
        reasons.append(info.reason)
        if info.connection == 2:
            await stuck.wait()  # never set: only the drop can end this
        if info.connection == 3:
            await info.send({"type": "session.update", "session": {}})

    async with (
        FakeRealtimeServer(script) as server,
        RealtimeClient(config(server.url), on_connected=hook) as client,
    ):
        back = await next_of(client, Reconnected)
        assert back.connection == 3
    assert reasons == [ConnectReason.INITIAL, ConnectReason.RECONNECT, ConnectReason.RECONNECT]


async def test_hook_timeout_fails_the_connect() -> None:
    async def slow_hook(info: ConnectionInfo) -> None:
        await asyncio.sleep(5)

    async with FakeRealtimeServer([expect_close()]) as server:
        client = RealtimeClient(config(server.url, hook_timeout=0.1), on_connected=slow_hook)
        with pytest.raises(TimeoutError):
            await client.connect()
        assert client.state is ClientState.CLOSED


async def test_pending_of_counts_the_queued_events_of_a_type() -> None:
    client = RealtimeClient(config("ws://127.0.0.1:9/v1/realtime"))  # never connected: sends stay queued
    client.send({"type": "input_audio_buffer.append", "audio": "AAAA"})
    client.send(item(1))
    client.send({"type": "input_audio_buffer.append", "audio": "BBBB"})
    assert client.pending == 3
    assert client.pending_of("input_audio_buffer.append") == 2
    assert client.pending_of("conversation.item.create") == 1
    assert client.pending_of("response.create") == 0

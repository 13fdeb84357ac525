"""``RealtimeClient.rotate()``: the client ends its server session itself and goes on with a fresh one."""

from __future__ import annotations

from voxpipe.realtime.client import (
    ClientState,
    ConnectionInfo,
    ConnectionLost,
    ConnectReason,
    RealtimeClient,
    RealtimeClientConfig,
    RealtimeVariant,
    Reconnected,
)
from voxpipe.server import LocalRealtimeServer, ServerConfig


async def test_rotate_starts_a_fresh_session_and_replays() -> None:
    reasons: list[ConnectReason] = []

    async def replay(connection: ConnectionInfo) -> None:
        reasons.append(connection.reason)
        await connection.send({"type": "session.update", "session": {"instructions": "Be brief."}})

    async with LocalRealtimeServer(ServerConfig(port=0, engines="test")) as server:
        config = RealtimeClientConfig(
            api_key="local", variant=RealtimeVariant.OPENAI_BETA, base_url=server.realtime_url
        )
        async with RealtimeClient(config, on_connected=replay) as client:
            first = await client.recv(timeout=5)
            assert first.type == "session.created"
            assert await client.rotate("test") is True
            seen = [await client.recv(timeout=5) for _ in range(3)]
            lost = next(e for e in seen if isinstance(e, ConnectionLost))
            back = next(e for e in seen if isinstance(e, Reconnected))
            created = next(e for e in seen if getattr(e, "type", "") == "session.created")
            assert lost.code == 1000 and lost.next is ConnectReason.ROTATION
            assert back.reason is ConnectReason.ROTATION and back.connection == 2
            assert created.session.id != first.session.id  # a new server session
            assert client.state is ClientState.CONNECTED
    assert reasons == [ConnectReason.INITIAL, ConnectReason.ROTATION]


async def test_rotate_is_refused_when_not_connected() -> None:
    config = RealtimeClientConfig(
        api_key="local", variant=RealtimeVariant.OPENAI_BETA, base_url="ws://127.0.0.1:9/v1/realtime"
    )
    client = RealtimeClient(config)
    assert await client.rotate() is False  # idle: there is no session to rotate
    assert client.state is ClientState.IDLE

"""Back-pressure end to end: a client that does not read is disconnected and freed, a slow reader slows its
response down instead of growing the server, and expiry and keepalive close sockets whose peer is stuck.

The misbehaving peers are bare sockets (``_raw_socket``) with a 4 KiB receive buffer: a client library
would read into its own queue and answer pings behind the test's back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from websockets.exceptions import ConnectionClosed

from voxpipe.server import LocalRealtimeServer, ServerConfig, ServerLimits

from ._raw_socket import RawSocketClient
from ._support import RawClient, user_text

pytestmark = pytest.mark.timeout(40)

STORY = {"token_delay_s": 0.0, "story_words": 400}
LIMITS = ServerLimits(max_outgoing_bytes=64 * 1024, send_timeout_s=1.0)


async def _wait_freed(server: LocalRealtimeServer, sessions: int = 0, timeout: float = 20.0) -> None:
    """Wait until ``sessions`` sessions remain (a hang guard, not a speed check)."""
    async with asyncio.timeout(timeout):
        while server.open_sessions != sessions:
            await asyncio.sleep(0.05)


async def _flood_with_stories(client: RawSocketClient, responses: int = 20) -> None:
    """Ask for long spoken stories and never read a byte of the answers."""
    await client.send(user_text("tell me a long story"))
    for _ in range(responses):
        await client.send({"type": "response.create"})


@pytest.fixture
async def limited() -> AsyncIterator[LocalRealtimeServer]:
    config = ServerConfig(port=0, engines="test", engine_options=STORY, limits=LIMITS, ping_interval_s=None)
    async with LocalRealtimeServer(config) as running:
        yield running


async def test_a_client_that_never_reads_is_closed_with_1008_and_freed(limited: LocalRealtimeServer) -> None:
    stuck = await RawSocketClient.connect(f"{limited.realtime_url}?model=m")
    try:
        await _flood_with_stories(stuck)
        await _wait_freed(limited)
        close = await stuck.recv_close()
        if close is not None:  # the close frame may be cut off with the rest of an unread buffer
            assert close.code == 1008
            assert "not reading" in close.reason
    finally:
        stuck.close()


async def test_a_stuck_client_does_not_slow_down_a_normal_one(limited: LocalRealtimeServer) -> None:
    stuck = await RawSocketClient.connect(f"{limited.realtime_url}?model=m")
    normal = await RawClient.connect(limited.realtime_url, "ga")
    try:
        await normal.recv_until("session.created")
        await _flood_with_stories(stuck)
        for turn in range(3):
            await normal.send(user_text(f"hello {turn}"))
            await normal.send({"type": "response.create"})
            events = await normal.recv_until("response.done")
            assert events[-1]["response"]["status"] == "completed"
        await _wait_freed(limited, sessions=1)
    finally:
        stuck.close()
        await normal.aclose()


async def test_a_slow_reader_gets_its_whole_answer_and_the_queue_stays_bounded() -> None:
    limits = ServerLimits(max_outgoing_bytes=64 * 1024, send_timeout_s=30.0)
    config = ServerConfig(port=0, engines="test", engine_options=STORY, limits=limits, ping_interval_s=None)
    async with LocalRealtimeServer(config) as limited:
        await _read_slowly(limited)


async def _read_slowly(limited: LocalRealtimeServer) -> None:
    client = await RawSocketClient.connect(f"{limited.realtime_url}?model=m", receive_buffer=None)
    try:
        await client.send(user_text("tell me a long story"))
        await client.send({"type": "response.create"})
        deltas = 0
        peak = 0
        while True:
            frame = await client.recv_frame()
            assert frame is not None
            text = frame.data.decode()
            deltas += '"response.output_audio.delta"' in text
            peak = max(peak, _queued_bytes(limited))
            if '"response.done"' in text:
                assert '"completed"' in text
                break
            await asyncio.sleep(0.002)  # a reader slower than the test engines
        assert deltas > 50
        assert peak <= 2 * LIMITS.max_outgoing_bytes
    finally:
        client.close()


def _queued_bytes(server: LocalRealtimeServer) -> int:
    app = server._server.config.app  # type: ignore[union-attr]
    return max((session.queued_bytes for session in app.state.voxpipe.sessions), default=0)


async def test_expiry_closes_a_client_that_never_reads() -> None:
    limits = ServerLimits(max_outgoing_bytes=64 * 1024, send_timeout_s=30.0, max_session_s=1.0)
    config = ServerConfig(port=0, engines="test", engine_options=STORY, limits=limits, ping_interval_s=None)
    async with LocalRealtimeServer(config) as server:
        stuck = await RawSocketClient.connect(f"{server.realtime_url}?model=m")
        try:
            await _flood_with_stories(stuck)
            await _wait_freed(server)  # long before the 30 s send timeout could have done it
        finally:
            stuck.close()


async def test_a_peer_that_never_answers_pings_is_closed_with_1011() -> None:
    limits = ServerLimits(send_timeout_s=30.0)
    config = ServerConfig(port=0, engines="test", limits=limits, ping_interval_s=0.2)
    async with LocalRealtimeServer(config) as server:
        silent = await RawSocketClient.connect(f"{server.realtime_url}?model=m", receive_buffer=None)
        polite = await RawClient.connect(server.realtime_url, "ga")  # websockets answers pings itself
        try:
            await _wait_freed(server, sessions=1)
            close = await silent.recv_close()
            assert close is not None and close.code == 1011
            await polite.send({"type": "input_audio_buffer.clear"})
            assert (await polite.recv_until("input_audio_buffer.cleared"))[-1]["type"]
        finally:
            silent.close()
            await polite.aclose()


async def test_aclose_returns_promptly_with_a_stuck_client() -> None:
    config = ServerConfig(
        port=0, engines="test", engine_options=STORY, ping_interval_s=None, shutdown_grace_s=0.5
    )
    server = LocalRealtimeServer(config)
    await server.start()
    stuck = await RawSocketClient.connect(f"{server.realtime_url}?model=m")
    normal = await RawClient.connect(server.realtime_url, "ga")
    try:
        await _flood_with_stories(stuck)
        await normal.recv_until("session.created")
        await asyncio.sleep(0.3)  # the stuck session's buffers fill
        async with asyncio.timeout(15):  # a hang guard: bench/abuse.py measures the time
            await server.aclose()
        with pytest.raises(ConnectionClosed) as closed:
            await normal.recv_until("never")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    finally:
        stuck.close()
        await normal.aclose()

"""Admission control: the session limit, 503 before the upgrade, liveness and readiness."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from voxpipe.errors import ConnectionFailedError, VoxpipeStateError, VoxpipeUsageError
from voxpipe.realtime.client import RealtimeClient, RealtimeClientConfig, RealtimeVariant, ReconnectPolicy
from voxpipe.server import LocalRealtimeServer, ServerConfig
from voxpipe.server.admission import Admission, Refusal, ServingState, default_max_sessions

from ._support import RawClient


def test_admission_admits_up_to_the_limit_then_refuses_as_full() -> None:
    refused: list[Refusal] = []
    gate = Admission(2, on_refused=refused.append)
    assert gate.try_admit() is not None and refused[-1].reason == "starting"
    gate.mark_ready()
    assert gate.try_admit() is None and gate.try_admit() is None
    full = gate.try_admit()
    assert full is not None and full.reason == "full" and full.retry_after_s >= 1
    assert gate.readiness() == full
    gate.release()
    assert gate.readiness() is None
    assert [r.reason for r in refused] == ["starting", "full"]


def test_draining_refuses_new_sessions_and_keeps_the_count() -> None:
    gate = Admission(5)
    gate.mark_ready()
    assert gate.try_admit() is None
    gate.start_draining()
    gate.start_draining()  # twice is fine
    refusal = gate.try_admit()
    assert refusal is not None and refusal.reason == "draining"
    assert gate.open_sessions == 1 and gate.state is ServingState.DRAINING
    gate.release()
    gate.stop()
    stopped = gate.readiness()
    assert stopped is not None and stopped.reason == "stopped"


def test_admission_rejects_wrong_moves_and_limits() -> None:
    gate = Admission(1)
    with pytest.raises(VoxpipeStateError, match="starting to draining"):
        gate._set_state(ServingState.DRAINING)
    with pytest.raises(VoxpipeStateError):
        gate.release()
    with pytest.raises(VoxpipeUsageError):
        Admission(0)
    with pytest.raises(VoxpipeUsageError):
        ServerConfig(max_sessions=0)


def test_every_engine_set_has_a_default_limit() -> None:
    assert default_max_sessions("local") < default_max_sessions("http") < default_max_sessions("test")
    assert default_max_sessions("no-such-set") == default_max_sessions(None)


async def test_a_full_server_refuses_the_upgrade_with_503_and_retry_after() -> None:
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test", max_sessions=2)) as server:
        first = await RawClient.connect(server.realtime_url, "ga")
        second = await RawClient.connect(server.realtime_url, "ga")
        await first.recv_until("session.created")
        await second.recv_until("session.created")
        async with httpx.AsyncClient(base_url=server.url) as http:
            ready = await http.get("/health/ready")
            assert ready.status_code == 503 and ready.json()["status"] == "full"
            assert ready.headers["retry-after"] == "1"
            live = await http.get("/health/live")
            assert live.status_code == 200 and live.json()["sessions"] == 2

            with pytest.raises(InvalidStatus) as refused:
                await websockets.connect(f"{server.realtime_url}?model=gpt-realtime")
            response = refused.value.response
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "1"
            assert json.loads(response.body)["error"]["code"] == "server_full"

            await first.aclose()
            for _ in range(100):  # the server sees the close a moment later
                if (await http.get("/health/ready")).status_code == 200:
                    break
            assert (await http.get("/health/ready")).json() == {
                "status": "ready",
                "state": "ready",
                "sessions": 1,
                "max_sessions": 2,
            }
            third = await RawClient.connect(server.realtime_url, "ga")
            await third.recv_until("session.created")
            await third.aclose()
        await second.aclose()


async def test_the_session_client_sees_a_full_server_as_a_retryable_refusal() -> None:
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test", max_sessions=1)) as server:
        holder = await RawClient.connect(server.realtime_url, "ga")
        await holder.recv_until("session.created")
        config = RealtimeClientConfig(
            variant=RealtimeVariant.OPENAI_GA,
            base_url=server.realtime_url,
            reconnect=ReconnectPolicy(max_attempts=0),
        )
        with pytest.raises(ConnectionFailedError) as failed:
            await RealtimeClient(config).connect()
        assert failed.value.code == "http_503" and failed.value.retryable
        await holder.aclose()


async def test_refused_sessions_do_not_leak_slots() -> None:
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test", max_sessions=1)) as server:
        holder = await RawClient.connect(server.realtime_url, "ga")
        await holder.recv_until("session.created")
        for _ in range(5):
            with pytest.raises(InvalidStatus):
                await websockets.connect(f"{server.realtime_url}?model=gpt-realtime")
        state = server_state(server)
        assert state.admission.open_sessions == 1
        await holder.aclose()
        again = await _connect_when_free(server)
        await again.aclose()


def server_state(server: LocalRealtimeServer) -> Any:
    """The running app's shared state (admission, metrics)."""
    assert server._server is not None
    return server._server.config.app.state.voxpipe


async def _connect_when_free(server: LocalRealtimeServer) -> RawClient:
    for _ in range(200):
        try:
            client = await RawClient.connect(server.realtime_url, "ga")
        except InvalidStatus:
            continue
        await client.recv_until("session.created")
        return client
    raise AssertionError("the slot was never given back")

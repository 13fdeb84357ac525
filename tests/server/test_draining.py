"""SIGTERM on ``voxpipe serve`` (a real process): not ready first, then drain, then close with 1012."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ._support import RawClient

pytestmark = pytest.mark.slow

SRC = Path(__file__).resolve().parents[2] / "src"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_ready(http: httpx.AsyncClient, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        assert process.poll() is None, "voxpipe serve exited during start-up"
        try:
            if (await http.get("/health/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("voxpipe serve did not become ready")


@pytest.fixture
async def serve_process(request: pytest.FixtureRequest) -> AsyncIterator[tuple[subprocess.Popen[bytes], int]]:
    drain_s: float = request.param
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-m", "voxpipe.cli", "serve", "--engines", "test", "--port", str(port)]
    command += ["--drain-seconds", str(drain_s), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await _wait_ready(http, process)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


async def _exited(process: subprocess.Popen[bytes], within_s: float) -> bool:
    for _ in range(int(within_s / 0.05)):
        if process.poll() is not None:
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.parametrize("serve_process", [30.0], indirect=True)
async def test_sigterm_stops_readiness_first_and_lets_open_sessions_finish(
    serve_process: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = serve_process
    url = f"ws://127.0.0.1:{port}/v1/realtime"
    client = await RawClient.connect(url, "ga")
    await client.recv_until("session.created")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        process.send_signal(signal.SIGTERM)
        for _ in range(100):
            ready = await http.get("/health/ready")
            if ready.status_code == 503:
                break
            await asyncio.sleep(0.05)
        assert ready.status_code == 503 and ready.json()["status"] == "draining"
        live = await http.get("/health/live")
        assert live.status_code == 200 and live.json()["state"] == "draining"
        with pytest.raises(InvalidStatus) as refused:
            await RawClient.connect(url, "ga")
        assert refused.value.response.status_code == 503

        # the open session still works during the drain
        await client.send({"type": "input_audio_buffer.clear"})
        await client.recv_until("input_audio_buffer.cleared")
        assert process.poll() is None

    await client.aclose()
    assert await _exited(process, within_s=10.0), "the drain did not end when the last session left"


@pytest.mark.parametrize("serve_process", [0.5], indirect=True)
async def test_after_the_drain_time_open_sessions_are_closed_with_1012(
    serve_process: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = serve_process
    client = await RawClient.connect(f"ws://127.0.0.1:{port}/v1/realtime", "ga")
    await client.recv_until("session.created")
    process.send_signal(signal.SIGTERM)
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await client.recv(timeout=10.0)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    assert await _exited(process, within_s=10.0)

"""``voxpipe serve`` as a real process facing a stuck client: SIGTERM closes every session with 1012 and the
process exits, and with ``--log-level debug`` no key reaches its log (uvicorn's and websockets' lines too)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from ._raw_socket import RawSocketClient
from ._support import RawClient, user_text
from .test_draining import SRC, _exited, _free_port, _wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

KEY = "process-key-0123456789abcdef"
WRONG = "wrong-key-zyxwvutsrqponmlkji"


def _serve(port: int, *extra: str, log_to: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "voxpipe.cli", "serve", "--engines", "test", "--port", str(port), *extra]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log_to)


async def test_sigterm_with_a_stuck_client_closes_sessions_with_1012_and_exits() -> None:
    port = _free_port()
    process = _serve(port, "--drain-seconds", "0", "--log-level", "warning")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await _wait_ready(http, process)
        url = f"ws://127.0.0.1:{port}/v1/realtime"
        stuck = await RawSocketClient.connect(f"{url}?model=m")
        normal = await RawClient.connect(url, "ga")
        await normal.recv_until("session.created")
        await stuck.send(user_text("tell me a long story"))
        for _ in range(20):
            await stuck.send({"type": "response.create"})
        await asyncio.sleep(0.5)  # the stuck session's buffers fill
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await normal.recv(timeout=15.0)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        assert await _exited(process, within_s=20.0), "voxpipe serve did not exit with a stuck client"
        print(f"SIGTERM to exit with a stuck client: {time.monotonic() - signalled:.2f} s")  # bench/abuse.py
        stuck.close()
        await normal.aclose()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


async def test_debug_log_of_the_process_holds_no_key() -> None:
    port = _free_port()
    log_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below, after the process
    process = _serve(
        port, "--api-key", KEY, "--log-level", "debug", "--drain-seconds", "0", log_to=log_file.fileno()
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await _wait_ready(http, process)
            minted = await http.post(
                "/v1/realtime/sessions", json={}, headers={"Authorization": f"Bearer {KEY}"}
            )
            assert minted.status_code == 200
            ephemeral = minted.json()["client_secret"]["value"]
        url = f"ws://127.0.0.1:{port}/v1/realtime?model=m&api_key={WRONG}"
        for headers, protocols in [
            ({"Authorization": f"Bearer {KEY}"}, None),
            ({"Authorization": f"Bearer {ephemeral}"}, None),
            ({"api-key": WRONG}, None),
            ({}, ["realtime", f"openai-insecure-api-key.{KEY}"]),
        ]:
            client = await RawSocketClient.connect(url, headers=headers, subprotocols=protocols)
            assert await client.recv_frame() is not None
            client.close()
        process.send_signal(signal.SIGTERM)
        assert await _exited(process, within_s=20.0)
        log_file.seek(0)
        log = log_file.read().decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        log_file.close()
    assert "uvicorn.error" in log and "authorization" in log.lower()  # the debug lines are there...
    for secret in (KEY, WRONG, ephemeral):
        assert secret not in log  # ...without a key

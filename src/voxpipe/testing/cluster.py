"""A scale-out deployment on loopback: N ``voxpipe serve`` processes behind a real HAProxy.

What the scale-out test and ``bench/scale_out.py`` run, and what an operator can run to try a balancer
config before shipping it::

    async with LocalCluster(3, balancer_config=Path("deploy/haproxy.cfg")) as cluster:
        url = cluster.balancer_url             # ws://127.0.0.1:PORT/v1/realtime
        cluster.kill(1)                        # SIGKILL server 1 (a crash, not a drain)
        print(await cluster.scrape(2))         # server 2's /metrics, parsed

Servers are real processes (``python -m voxpipe.cli serve``) so a kill is a real crash. The HAProxy
config is used as shipped: the cluster fills its ``${VOXPIPE_*}`` variables (see ``deploy/haproxy.cfg``);
the config has ``slots`` server lines, and slots beyond ``servers`` point at a closed port (HAProxy marks
them down at its first check). ``start`` returns once every server is ready and HAProxy sees them up.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
from prometheus_client.parser import text_string_to_metric_families

from voxpipe.errors import OperationTimeoutError, VoxpipeStateError, VoxpipeUsageError, VoxpipeWorldError

__all__ = ["LocalCluster", "MetricSamples", "ServerProcess", "free_port", "parse_metrics"]

MetricSamples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
"""Prometheus samples keyed by (name, sorted label pairs)."""

_START_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_metrics(text: str) -> MetricSamples:
    """Every sample of a Prometheus text page."""
    found: MetricSamples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a process (this returns at once: it never waits for the child)."""
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


@dataclass
class ServerProcess:
    """One ``voxpipe serve`` of the cluster.

    Attributes:
        index: 1-based; the HAProxy server name is ``s<index>``.
        port: its own port (clients normally go through the balancer).
        process: the OS process.
    """

    index: int
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def realtime_url(self) -> str:
        """``ws://127.0.0.1:PORT/v1/realtime``: the server directly, bypassing the balancer."""
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    @property
    def alive(self) -> bool:
        """The process has not exited."""
        return self.process.poll() is None


class LocalCluster:
    """See the module docstring.

    Args:
        servers: how many ``voxpipe serve`` processes.
        balancer_config: the HAProxy config to run (``deploy/haproxy.cfg``).
        engines: the servers' engine set.
        serve_args: more ``voxpipe serve`` arguments (``--max-sessions 30``).
        slots: server lines in the config.
        log_level: the servers' log level.

    Raises:
        VoxpipeUsageError: more servers than slots, or no servers.
    """

    def __init__(
        self,
        servers: int,
        *,
        balancer_config: Path,
        engines: str = "test",
        serve_args: Sequence[str] = (),
        slots: int = 3,
        log_level: str = "warning",
    ) -> None:
        if not 1 <= servers <= slots:
            raise VoxpipeUsageError(f"LocalCluster: need 1..{slots} servers (config slots), got {servers}")
        self._count = servers
        self._config = balancer_config
        self._engines = engines
        self._serve_args = list(serve_args)
        self._slots = slots
        self._log_level = log_level
        self.servers: list[ServerProcess] = []
        self._balancer: subprocess.Popen[bytes] | None = None
        self._lb_port = 0
        self._stats_port = 0
        self._http: httpx.AsyncClient | None = None

    @property
    def balancer_url(self) -> str:
        """``ws://127.0.0.1:PORT/v1/realtime`` through HAProxy."""
        return f"ws://127.0.0.1:{self._lb_port}/v1/realtime"

    @property
    def balancer_http(self) -> str:
        """``http://127.0.0.1:PORT`` through HAProxy."""
        return f"http://127.0.0.1:{self._lb_port}"

    @property
    def stats_url(self) -> str:
        """HAProxy's stats page (``/stats``) and its own Prometheus metrics (``/metrics``)."""
        return f"http://127.0.0.1:{self._stats_port}"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start the servers and HAProxy; return once HAProxy sees every server up.

        Raises:
            VoxpipeStateError: started twice.
            VoxpipeWorldError: ``haproxy`` is not installed, or a process exited during start-up.
            OperationTimeoutError: not ready within 30 s.
        """
        if self._http is not None:
            raise VoxpipeStateError("LocalCluster.start called twice")
        haproxy = shutil.which("haproxy")
        if haproxy is None:
            raise VoxpipeWorldError(
                "haproxy is not installed (Debian: apt-get install haproxy; ./scripts/test installs it)",
                code="haproxy_missing",
            )
        self._http = httpx.AsyncClient(timeout=5.0)
        try:
            for index in range(1, self._count + 1):
                self.servers.append(self._start_server(index))
            for server in self.servers:
                await self._until(functools.partial(self._ready, server), f"server {server.index} ready")
            self._lb_port, self._stats_port = free_port(), free_port()
            env = {
                **os.environ,
                "VOXPIPE_LB_BIND": f"127.0.0.1:{self._lb_port}",
                "VOXPIPE_LB_STATS": f"127.0.0.1:{self._stats_port}",
            }
            for slot in range(1, self._slots + 1):
                port = self.servers[slot - 1].port if slot <= self._count else free_port()
                env[f"VOXPIPE_SERVER_{slot}"] = f"127.0.0.1:{port}"
            self._balancer = _spawn([haproxy, "-db", "-f", str(self._config)], env)
            await self._until(self._balancer_sees_all, "HAProxy sees every server up")
        except BaseException:
            await self.aclose()
            raise

    def _start_server(self, index: int) -> ServerProcess:
        port = free_port()
        command = [sys.executable, "-m", "voxpipe.cli", "serve", "--engines", self._engines]
        command += ["--port", str(port), "--log-level", self._log_level, *self._serve_args]
        process = _spawn(command, dict(os.environ))
        return ServerProcess(index=index, port=port, process=process)

    async def _until(self, check: Callable[[], Awaitable[bool]], what: str) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            for server in self.servers:
                if not server.alive:
                    raise VoxpipeWorldError(
                        f"voxpipe serve {server.index} exited with {server.process.returncode} while waiting "
                        f"for: {what}",
                        code="server_exited",
                    )
            if self._balancer is not None and self._balancer.poll() is not None:
                raise VoxpipeWorldError(f"haproxy exited with {self._balancer.returncode}", code="lb_exited")
            if await check():
                return
            await asyncio.sleep(0.05)
        raise OperationTimeoutError(f"LocalCluster: not done within {_START_TIMEOUT_S} s: {what}")

    async def _ready(self, server: ServerProcess) -> bool:
        assert self._http is not None
        try:
            return (await self._http.get(f"{server.url}/health/ready")).status_code == 200
        except httpx.TransportError:
            return False

    async def balancer_states(self) -> dict[str, str]:
        """HAProxy's view of each server line: ``{"s1": "UP", "s2": "DOWN", ...}``."""
        assert self._http is not None
        try:
            response = await self._http.get(f"{self.stats_url}/stats;csv")
        except httpx.TransportError:
            return {}
        rows = csv.DictReader(io.StringIO(response.text.lstrip("# ")))
        return {
            row["svname"]: row["status"].split(" ")[0]
            for row in rows
            if row["pxname"] == "voxpipe" and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    async def _balancer_sees_all(self) -> bool:
        states = await self.balancer_states()
        return all(states.get(f"s{server.index}") == "UP" for server in self.servers)

    def kill(self, index: int) -> float:
        """SIGKILL server ``index`` (a crash) and return ``time.monotonic()`` just before the kill."""
        server = self.servers[index - 1]
        killed_at = time.monotonic()
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        return killed_at

    async def scrape(self, index: int) -> MetricSamples:
        """Server ``index``'s ``/metrics``, parsed."""
        assert self._http is not None
        response = await self._http.get(f"{self.servers[index - 1].url}/metrics")
        response.raise_for_status()
        return parse_metrics(response.text)

    async def aclose(self) -> None:
        """Stop HAProxy and every server (SIGKILL after 5 s). Safe to call twice."""
        processes = [s.process for s in self.servers]
        if self._balancer is not None:
            processes.insert(0, self._balancer)
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT if process is not self._balancer else signal.SIGTERM)
        for process in processes:
            try:
                await asyncio.to_thread(process.wait, 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self._balancer = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

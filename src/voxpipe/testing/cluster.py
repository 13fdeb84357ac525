"""A scale-out deployment on loopback: N ``voxpipe serve`` processes behind a real HAProxy or nginx.

What the scale-out test and ``bench/scale_out.py`` run, and what an operator can run to try a balancer
config before shipping it::

    async with LocalCluster(3, balancer_config=Path("deploy/haproxy.cfg")) as cluster:
        url = cluster.balancer_url             # ws://127.0.0.1:PORT/v1/realtime
        cluster.kill(1)                        # SIGKILL server 1 (a crash, not a drain)
        print(await cluster.scrape(2))         # server 2's /metrics, parsed

Servers are real processes (``python -m voxpipe.cli serve``) so a kill is a real crash. The balancer
config is used as shipped: the cluster fills its ``${VOXPIPE_*}`` variables (HAProxy reads them from the
environment; for nginx the cluster renders the file, as ``envsubst`` would). The config has ``slots``
server lines; slots beyond ``servers`` point at a closed port (the balancer finds them down).
``start`` returns once every server is ready (and HAProxy, which checks actively, sees them up).
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
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
from prometheus_client.parser import text_string_to_metric_families

from voxpipe.errors import OperationTimeoutError, VoxpipeStateError, VoxpipeUsageError, VoxpipeWorldError
from voxpipe.utils.endpoints import Endpoint

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
        return Endpoint("127.0.0.1", self.port).http

    @property
    def realtime_url(self) -> str:
        """``ws://127.0.0.1:PORT/v1/realtime``: the server directly, bypassing the balancer."""
        return Endpoint("127.0.0.1", self.port).realtime

    @property
    def alive(self) -> bool:
        """The process has not exited."""
        return self.process.poll() is None


class LocalCluster:
    """See the module docstring.

    Args:
        servers: how many ``voxpipe serve`` processes.
        balancer_config: the balancer config to run (``deploy/haproxy.cfg`` or ``deploy/nginx.conf``).
        balancer: ``"haproxy"`` or ``"nginx"``.
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
        balancer: str = "haproxy",
        engines: str = "test",
        serve_args: Sequence[str] = (),
        slots: int = 3,
        log_level: str = "warning",
    ) -> None:
        if not 1 <= servers <= slots:
            raise VoxpipeUsageError(f"LocalCluster: need 1..{slots} servers (config slots), got {servers}")
        if balancer not in ("haproxy", "nginx"):
            raise VoxpipeUsageError(f"LocalCluster balancer must be 'haproxy' or 'nginx', got {balancer!r}")
        self._count = servers
        self._config = balancer_config
        self._kind = balancer
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._engines = engines
        self._serve_args = list(serve_args)
        self._slots = slots
        self._log_level = log_level
        self.servers: list[ServerProcess] = []
        self._balancer: subprocess.Popen[bytes] | None = None
        self._lb_port = 0
        self._stats_port = 0
        self._http: httpx.AsyncClient | None = None
        self._killed: set[int] = set()

    @property
    def balancer_url(self) -> str:
        """``ws://127.0.0.1:PORT/v1/realtime`` through HAProxy."""
        return Endpoint("127.0.0.1", self._lb_port).realtime

    @property
    def balancer_http(self) -> str:
        """``http://127.0.0.1:PORT`` through HAProxy."""
        return Endpoint("127.0.0.1", self._lb_port).http

    @property
    def stats_url(self) -> str:
        """HAProxy's stats page (``/stats``) and its own Prometheus metrics (``/metrics``)."""
        return Endpoint("127.0.0.1", self._stats_port).http

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
        program = shutil.which(self._kind)
        if program is None:
            raise VoxpipeWorldError(
                f"{self._kind} is not installed (Debian: apt-get install {self._kind}; ./scripts/test "
                "installs it)",
                code="balancer_missing",
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
            self._balancer = _spawn(self._balancer_command(program, env), env)
            await self.until_all_up()
        except BaseException:
            await self.aclose()
            raise

    def _balancer_command(self, program: str, env: dict[str, str]) -> list[str]:
        if self._kind == "haproxy":
            return [program, "-db", "-f", str(self._config)]
        self._workdir = tempfile.TemporaryDirectory(prefix="voxpipe-nginx-")
        rendered = Path(self._workdir.name) / "nginx.conf"
        ours = {name: value for name, value in env.items() if name.startswith("VOXPIPE_")}
        rendered.write_text(string.Template(self._config.read_text()).safe_substitute(ours))
        pid = Path(self._workdir.name) / "nginx.pid"
        return [program, "-p", self._workdir.name, "-c", str(rendered), "-g", f"daemon off; pid {pid};"]

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
                if not server.alive and server.index not in self._killed:
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
        return await self._answers(f"{server.url}/health/ready")

    async def _answers(self, url: str) -> bool:
        assert self._http is not None
        try:
            return (await self._http.get(url)).status_code == 200
        except httpx.TransportError:
            return False

    async def balancer_states(self) -> dict[str, str]:
        """HAProxy's view of each server line: ``{"s1": "UP", "s2": "DOWN", ...}`` (nginx: empty)."""
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
        if self._kind == "nginx":  # no active checks: ready servers are what it will find
            return await self._answers(f"{self.balancer_http}/health/live")
        states = await self.balancer_states()
        live = {f"s{server.index}" for server in self.servers if server.alive}
        slots = {f"s{slot}" for slot in range(1, self._slots + 1)}
        # HAProxy starts every server line UP: wait until the unused (and dead) slots are seen down too
        return all(states.get(name) == "UP" for name in live) and all(
            states.get(name, "DOWN") != "UP" for name in slots - live
        )

    async def until_all_up(self) -> None:
        """Return once HAProxy sees every live server up (after they were full, say) and the others down.

        Raises:
            OperationTimeoutError: not within 30 s.
        """
        await self._until(self._balancer_sees_all, "HAProxy sees every server up")

    def kill(self, index: int) -> float:
        """SIGKILL server ``index`` (a crash) and return ``time.monotonic()`` just before the kill."""
        server = self.servers[index - 1]
        self._killed.add(index)
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
        """Stop HAProxy and every server (SIGTERM, SIGKILL after 5 s). Safe to call twice."""
        processes = [s.process for s in self.servers]
        if self._balancer is not None:
            processes.insert(0, self._balancer)
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # servers drain (nothing left to drain by now) and stop
        for process in processes:
            try:
                await asyncio.to_thread(process.wait, 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self._balancer = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

"""Abuse of ``voxpipe serve``: what hostile or careless clients cost the server, and whether others notice.

Each abuse runs against a fresh server in a subprocess (``python -m voxpipe.cli serve --engines test
--drain-seconds 0``), while one well-behaved session beside it sends ``input_audio_buffer.clear`` every
20 ms and times each ``input_audio_buffer.cleared`` (its event latency). At the end of each abuse, with the
abusers still connected, the server gets SIGTERM. Per abuse it prints:

* the server's peak RSS growth over its RSS before the abuse (``/proc/<pid>/status``, sampled every 20 ms);
* its open file descriptors before and after the abuse (``/proc/<pid>/fd``, abusers gone);
* the time from SIGTERM to the process's exit;
* the well-behaved session's p50/p99/max event latency during the abuse, and its errors.

Abuses: ``never-reading`` (clients that ask for long spoken answers and never read a byte), ``deep-json``
(events nested 100,000 deep, tool schemas 40 deep), ``huge-body`` (200 MiB POSTs to the key endpoints,
streamed and declared), ``flood`` (a client that sends bad events and audio as fast as it can and never
reads), ``churn`` (thousands of connects and disconnects, 20 at a time).

Targets (issue 12): never-reading RSS growth < 50 MB; SIGTERM to exit < 5 s with a stuck client; 200 MiB
body RSS growth < 20 MB; the parallel session's p99 event latency < 50 ms throughout.

Usage::

    .venv/bin/python bench/abuse.py                 # every abuse, about a minute
    .venv/bin/python bench/abuse.py --only flood --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websockets

from voxpipe.utils.endpoints import Endpoint

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class Server:
    """One ``voxpipe serve`` subprocess and what is sampled from it."""

    process: subprocess.Popen[bytes]
    port: int
    peak_mb: float = 0.0
    samples: list[float] = field(default_factory=list)

    @property
    def url(self) -> str:
        return Endpoint("127.0.0.1", self.port).realtime

    @property
    def http(self) -> str:
        return Endpoint("127.0.0.1", self.port).http

    async def sample(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                self.peak_mb = max(self.peak_mb, rss_mb(self.process.pid))
            await asyncio.sleep(0.02)


def spawn_server(extra: list[str]) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "voxpipe.cli", "serve", "--engines", "test", "--port", str(port)]
    command += ["--drain-seconds", "0", "--log-level", "error", *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return Server(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL), port)


async def start_server(extra: list[str]) -> Server:
    server = spawn_server(extra)
    process = server.process
    async with httpx.AsyncClient(base_url=server.http) as http:
        for _ in range(400):
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/health/ready")).status_code == 200:
                    return server
            if process.poll() is not None:
                break
            await asyncio.sleep(0.05)
    process.kill()
    raise SystemExit("voxpipe serve did not start")


# -- the well-behaved session ---------------------------------------------------------------------------


@dataclass
class Probe:
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def well_behaved(url: str, stop: asyncio.Event, probe: Probe) -> None:
    """Round trips of ``input_audio_buffer.clear`` every 20 ms until ``stop``."""
    try:
        async with websockets.connect(f"{url}?model=probe", max_size=None) as ws:
            await ws.recv()  # session.created
            while not stop.is_set():
                sent = time.perf_counter()
                await ws.send('{"type":"input_audio_buffer.clear"}')
                while True:
                    event = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if event["type"] == "input_audio_buffer.cleared":
                        break
                    if event["type"] == "error":
                        probe.errors.append(event["error"]["code"])
                        break
                probe.latencies_ms.append((time.perf_counter() - sent) * 1000)
                await asyncio.sleep(0.02)
    except Exception as exc:  # a broken probe is a figure too
        probe.errors.append(f"{type(exc).__name__}: {exc}"[:120])


# -- abuses ---------------------------------------------------------------------------------------------

Abuse = Callable[[Server, float, contextlib.AsyncExitStack], Awaitable[str]]


async def stuck_socket(server: Server, stack: contextlib.AsyncExitStack) -> websockets.ClientConnection:
    """A client that never reads: a 4 KiB receive buffer and a library queue of one message."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    ws = await websockets.connect(f"{server.url}?model=stuck", sock=sock, max_queue=1, ping_interval=None)
    stack.push_async_callback(ws.close)  # at the very end: the SIGTERM comes while it is still stuck
    return ws


async def never_reading(server: Server, seconds: float, stack: contextlib.AsyncExitStack) -> str:
    user = {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "a long story"}],
        },
    }
    clients = [await stuck_socket(server, stack) for _ in range(5)]
    deadline = time.monotonic() + seconds
    sent = 0
    while time.monotonic() < deadline:
        for ws in clients:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.send(json.dumps(user)), 0.5)
                await asyncio.wait_for(ws.send('{"type":"response.create"}'), 0.5)
                sent += 2
        await asyncio.sleep(0.2)
    return f"5 clients, {sent} events sent, none read"


async def deep_json(server: Server, seconds: float, stack: contextlib.AsyncExitStack) -> str:
    deep = '{"type":"session.update","session":{"metadata":' + "[" * 100_000 + "]" * 100_000 + "}}"
    schema: dict[str, object] = {"type": "string"}
    for _ in range(40):
        schema = {"type": "object", "properties": {"x": schema}}
    tool = {"type": "function", "name": "f", "parameters": schema}
    nested_tools = json.dumps({"type": "session.update", "session": {"tools": [tool]}})
    errors = 0
    async with websockets.connect(f"{server.url}?model=deep", max_size=None) as ws:
        await ws.recv()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for message in (deep, nested_tools):
                await ws.send(message)
                errors += json.loads(await ws.recv())["type"] == "error"
    return f"{errors} nested events, each answered by one error"


async def post_huge(server: Server, path: str, *, declared: bool) -> str:
    """POST 200 MiB on a raw socket (chunked, or with a declared length); the status, or how it ended."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    framing = f"Content-Length: {200 * MIB + 20}" if declared else "Transfer-Encoding: chunked"
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{framing}\r\n\r\n".encode()
    )
    chunk = b"x" * MIB
    framed = chunk if declared else f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    try:
        for _ in range(200):
            writer.write(framed)
            await asyncio.wait_for(writer.drain(), 2.0)  # the server stops reading: give up writing
        status = (await asyncio.wait_for(reader.readline(), 5.0)).decode().strip()
    except (TimeoutError, ConnectionError) as exc:
        status = (await _status_or(reader, type(exc).__name__)).strip()
    writer.transport.abort()
    return status.split(" ")[1] if status.startswith("HTTP/") else status


async def _status_or(reader: asyncio.StreamReader, fallback: str) -> str:
    with contextlib.suppress(Exception):
        line = (await asyncio.wait_for(reader.readline(), 2.0)).decode()
        if line:
            return line
    return fallback


async def huge_body(server: Server, seconds: float, stack: contextlib.AsyncExitStack) -> str:
    statuses: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for path in ("/v1/realtime/sessions", "/v1/realtime/client_secrets"):
            for declared in (False, True):
                statuses.append(await post_huge(server, path, declared=declared))
    return f"{len(statuses)} POSTs of 200 MiB, answers {sorted(set(statuses))}"


async def flood(server: Server, seconds: float, stack: contextlib.AsyncExitStack) -> str:
    ws = await stuck_socket(server, stack)
    audio = base64.b64encode(b"\x00\x00" * 2400).decode()
    messages = ["{oops", '{"type":"nope"}', json.dumps({"type": "input_audio_buffer.append", "audio": audio})]
    deadline = time.monotonic() + seconds
    sent = 0
    while time.monotonic() < deadline:
        try:
            await asyncio.wait_for(ws.send(messages[sent % 3]), 1.0)
        except TimeoutError:
            break  # the server stopped reading it (back-pressure): that is the point
        except Exception:
            break
        sent += 1
    return f"{sent} events sent as fast as accepted"


async def churn(server: Server, seconds: float, stack: contextlib.AsyncExitStack) -> str:
    done = 0
    deadline = time.monotonic() + seconds

    async def one() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                async with websockets.connect(f"{server.url}?model=churn") as ws:
                    await ws.recv()
                done += 1

    await asyncio.gather(*(one() for _ in range(20)))
    return f"{done} sessions opened and closed"


ABUSES: dict[str, Abuse] = {
    "never-reading": never_reading,
    "deep-json": deep_json,
    "huge-body": huge_body,
    "flood": flood,
    "churn": churn,
}


# -- one run --------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_one(name: str, abuse: Abuse, seconds: float, extra: list[str]) -> dict[str, object]:
    server = await start_server(extra)
    pid = server.process.pid
    await asyncio.sleep(0.5)
    base_mb, base_fds = rss_mb(pid), open_fds(pid)
    server.peak_mb = base_mb
    stop, probe = asyncio.Event(), Probe()
    sampler = asyncio.create_task(server.sample(stop))
    prober = asyncio.create_task(well_behaved(server.url, stop, probe))
    await asyncio.sleep(0.3)
    async with contextlib.AsyncExitStack() as stack:
        what = await abuse(server, seconds, stack)
        await asyncio.sleep(0.5)
        stop.set()
        await prober
        fds_during = open_fds(pid)
        signalled = time.perf_counter()
        server.process.send_signal(signal.SIGTERM)  # the stuck abusers are still connected
        try:
            await asyncio.to_thread(server.process.wait, 30)
        except subprocess.TimeoutExpired:
            server.process.kill()
        exit_s = time.perf_counter() - signalled
    await sampler
    return {
        "abuse": name,
        "what": what,
        "rss_before_mb": round(base_mb, 1),
        "rss_growth_mb": round(server.peak_mb - base_mb, 1),
        "fds_before": base_fds,
        "fds_at_end": fds_during,
        "sigterm_to_exit_s": round(exit_s, 2),
        "probe_p50_ms": round(statistics.median(probe.latencies_ms), 2) if probe.latencies_ms else None,
        "probe_p99_ms": round(percentile(probe.latencies_ms, 0.99), 2),
        "probe_max_ms": round(max(probe.latencies_ms, default=float("nan")), 2),
        "probe_events": len(probe.latencies_ms),
        "probe_errors": probe.errors[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(ABUSES), action="append", help="run only these abuses")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each abuse (default: 8)")
    parser.add_argument("--send-timeout", type=float, default=2.0, help="the server's --send-timeout (s)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    extra = ["--send-timeout", str(args.send_timeout)]
    results = []
    for name in args.only or list(ABUSES):
        result = asyncio.run(run_one(name, ABUSES[name], args.seconds, extra))
        results.append(result)
        r = result
        print(
            f"{name:14} RSS +{r['rss_growth_mb']:6.1f} MB (from {r['rss_before_mb']} MB)  "
            f"fds {r['fds_before']}->{r['fds_at_end']}  SIGTERM->exit {r['sigterm_to_exit_s']} s  "
            f"probe p50 {r['probe_p50_ms']} ms p99 {r['probe_p99_ms']} ms max {r['probe_max_ms']} ms "
            f"({r['probe_events']} events, errors {r['probe_errors']})  [{r['what']}]",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""Load test of ``voxpipe serve``: N concurrent sessions each running spoken turns on loopback.

The server runs in a subprocess (``python -m voxpipe.cli serve --engines test``) so its CPU time and memory
can be read from ``/proc``; the clients are plain ``websockets`` connections in this process. Each session
streams its turns at real-time pace (tones of the test TTS, 100 ms per append, leading and trailing
silence), server VAD ends each turn and creates the response. Latency is measured on the client from the
arrival of ``input_audio_buffer.speech_stopped`` to the arrival of the first audio delta of the response
(``--manual``: from sending ``input_audio_buffer.commit`` + ``response.create`` to the first audio delta).

Usage::

    .venv/bin/python bench/server_load.py --sessions 200 --turns 3
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import websockets

from voxpipe.audio import silence
from voxpipe.server.engines.testing import encode_tones

CHUNK_MS = 100
PHRASES = ["what is the weather like", "tell me something nice", "good morning to you", "how are you today"]


@dataclass
class Results:
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    turns: int = 0
    sessions_ok: int = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_cpu_s(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


_TURNS: dict[str, list[str]] = {}


def turn_messages(phrase: str) -> list[str]:
    """The append messages of one spoken turn, serialised once (the client must stay cheap)."""
    if phrase not in _TURNS:
        pcm = silence(300, 24000) + encode_tones(phrase) + silence(700, 24000)
        size = CHUNK_MS * 48
        _TURNS[phrase] = [
            json.dumps(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm[i : i + size]).decode()}
            )
            for i in range(0, len(pcm), size)
        ]
    return _TURNS[phrase]


async def read_events(
    ws: websockets.ClientConnection, audio_prefix: str, inbox: asyncio.Queue[tuple[float, dict]]
) -> None:
    """Timestamp every event on arrival; audio deltas are recognised by prefix and not parsed."""
    async for raw in ws:
        now = time.perf_counter()
        text = raw if isinstance(raw, str) else raw.decode()
        if text.startswith(audio_prefix):
            inbox.put_nowait((now, {"type": "audio"}))
        else:
            inbox.put_nowait((now, json.loads(text)))


async def session(
    url: str, index: int, turns: int, manual: bool, results: Results, shape: str, compression: str | None
) -> None:
    await asyncio.sleep(random.random() * 2.0)  # spread the starts over 2 s
    headers = {"OpenAI-Beta": "realtime=v1"} if shape == "beta" else {}
    audio_type = "response.audio.delta" if shape == "beta" else "response.output_audio.delta"
    inbox: asyncio.Queue[tuple[float, dict]] = asyncio.Queue()
    try:
        async with websockets.connect(
            f"{url}?model=gpt-realtime", additional_headers=headers, max_size=None, compression=compression
        ) as ws:
            reader = asyncio.create_task(read_events(ws, '{"type":"' + audio_type + '"', inbox))
            try:
                await run_turns(ws, inbox, index, turns, manual, results, shape)
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
            results.sessions_ok += 1
    except (OSError, TimeoutError, websockets.WebSocketException) as exc:
        results.errors.append(type(exc).__name__)


async def run_turns(
    ws: websockets.ClientConnection,
    inbox: asyncio.Queue[tuple[float, dict]],
    index: int,
    turns: int,
    manual: bool,
    results: Results,
    shape: str,
) -> None:
    _, created = await asyncio.wait_for(inbox.get(), 10)
    if created["type"] != "session.created":
        results.errors.append("no session.created")
        return
    if manual:
        body = (
            {"turn_detection": None}
            if shape == "beta"
            else {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
        )
        await ws.send(json.dumps({"type": "session.update", "session": body}))
    for turn in range(turns):
        start = time.perf_counter()
        for number, message in enumerate(turn_messages(PHRASES[(index + turn) % len(PHRASES)])):
            await ws.send(message)
            delay = start + (number + 1) * CHUNK_MS / 1000 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        t0 = None
        if manual:
            t0 = time.perf_counter()
            await ws.send('{"type":"input_audio_buffer.commit"}')
            await ws.send('{"type":"response.create"}')
        first_audio = False
        while True:
            arrived, event = await asyncio.wait_for(inbox.get(), 30)
            kind = event["type"]
            if kind == "error":
                results.errors.append(str(event["error"].get("code")))
            elif kind == "input_audio_buffer.speech_stopped" and not manual:
                t0 = arrived
            elif kind == "audio" and not first_audio and t0 is not None:
                first_audio = True
                results.latencies_ms.append((arrived - t0) * 1000)
            elif kind == "response.done":
                if event["response"]["status"] != "completed":
                    results.errors.append(f"response {event['response']['status']}")
                break
        results.turns += 1


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--shape", choices=["beta", "ga"], default="ga")
    parser.add_argument(
        "--manual", action="store_true", help="commit + response.create instead of server VAD"
    )
    parser.add_argument("--url", help="use a running server (ws://host:port/v1/realtime); no CPU/RSS figures")
    parser.add_argument(
        "--deflate",
        action="store_true",
        help="offer permessage-deflate (the SDK's default) and let the server take it",
    )
    args = parser.parse_args()

    server: subprocess.Popen[bytes] | None = None
    if args.url:
        url = args.url
    else:
        port = free_port()
        command = [sys.executable, "-m", "voxpipe.cli", "serve", "--engines", "test", "--port", str(port)]
        if args.deflate:
            command.append("--deflate")
        server = subprocess.Popen([*command, "--log-level", "warning"], stdout=subprocess.DEVNULL)  # noqa: ASYNC220
        url = f"ws://127.0.0.1:{port}/v1/realtime"
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                await asyncio.sleep(0.1)
    pid = server.pid if server is not None else None
    try:
        compression = "deflate" if args.deflate else None
        cpu0, wall0 = proc_cpu_s(pid), time.perf_counter()
        client_cpu0 = time.process_time()
        load0 = os.getloadavg()[0]
        results = Results()
        peak_rss = proc_rss_mb(pid)

        async def sample_rss() -> None:
            nonlocal peak_rss
            while True:
                peak_rss = max(peak_rss, proc_rss_mb(pid))
                await asyncio.sleep(0.25)

        sampler = asyncio.create_task(sample_rss())
        try:
            await asyncio.gather(
                *(
                    session(url, i, args.turns, args.manual, results, args.shape, compression)
                    for i in range(args.sessions)
                )
            )
        finally:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
        wall = time.perf_counter() - wall0
        cpu = proc_cpu_s(pid) - cpu0
        client_cpu = time.process_time() - client_cpu0
        load1 = os.getloadavg()[0]
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)

    lat = results.latencies_ms
    start = "commit+response.create" if args.manual else "speech_stopped"
    print(f"sessions           {results.sessions_ok}/{args.sessions} completed")
    print(f"shape              {args.shape}, {args.turns} turns per session")
    print(f"turns              {results.turns}")
    print(f"errors             {len(results.errors)} {sorted(set(results.errors))[:5]}")
    worst = max(lat, default=float("nan"))
    mean = statistics.fmean(lat) if lat else float("nan")
    print(f"latency {start} -> first audio delta (ms, n={len(lat)}):")
    print(
        f"                   p50 {percentile(lat, 0.5):.1f}  p99 {percentile(lat, 0.99):.1f}  max {worst:.1f}"
    )
    print(f"                   mean {mean:.1f}")
    print(f"server CPU         {cpu:.1f} s over {wall:.1f} s wall = {100 * cpu / wall:.0f}% of one core")
    print(f"server RSS         peak {peak_rss:.0f} MiB")
    print(
        f"client CPU         {client_cpu:.1f} s = {100 * client_cpu / wall:.0f}% of one core (same machine)"
    )
    print(f"compression        {'permessage-deflate' if args.deflate else 'off'}")
    print(f"load average       {load0:.2f} at start, {load1:.2f} at end ({os.cpu_count()} CPUs, shared)")
    return 0 if not results.errors and results.sessions_ok == args.sessions else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

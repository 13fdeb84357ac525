"""Scale-out through a real HAProxy (``deploy/haproxy.cfg``) in front of 1, 2 and 3 ``voxpipe serve``.

For each cluster size it prints:

* capacity: every server runs with ``--max-sessions CAP``; ``CAP * N + overflow`` sessions try to open
  through the balancer, once each: how many each server took, how many the clients saw refused (503 at
  capacity) and how many refusals the servers counted (HAProxy retries a 503 on another server first,
  so servers count more refusals than clients see);
* latency: ``--sessions`` callers speak ``--turns`` turns each, through the balancer and then straight to
  the servers (spread evenly): p50/p99 from ``speech_stopped`` to the first audio delta, at the client;
* failover (2 and 3 servers): the same callers through the balancer, server 1 SIGKILLed after a third of
  the turns: how many callers reconnected, and the time from the kill to each one's next audio delta
  (that includes reconnecting, replaying the history and speaking the interrupted turn again).

Servers use the test engines (deterministic, nearly free), so the figures are the cost of the protocol,
the server and the balancer, not of models. Everything shares this machine's cores: the load average
is printed with the figures.

Usage::

    .venv/bin/python bench/scale_out.py                  # 1, 2, 3 servers; about a minute
    .venv/bin/python bench/scale_out.py --servers 3 --sessions 60
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path

from voxpipe.audio import silence
from voxpipe.errors import ConnectionFailedError
from voxpipe.server.engines.testing import encode_tones
from voxpipe.testing.caller import CallerReport, ScriptedCaller, Turn
from voxpipe.testing.cluster import LocalCluster, MetricSamples

CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "haproxy.cfg"
PHRASES = ["hello there", "what time is it", "good morning", "tell me a joke", "how are you"]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f} (1/5 min, {os.cpu_count()} cores)"


def value(samples: MetricSamples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def turns(index: int, count: int) -> list[Turn]:
    made = []
    for n in range(count):
        phrase = PHRASES[(index + n) % len(PHRASES)]
        audio = silence(200, 24000) + encode_tones(phrase) + silence(500, 24000)
        made.append(Turn(audio=audio, expect=f"You said: {phrase}", said=phrase))
    return made


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"p50 {percentile(values, 0.5) * 1000:6.1f} ms  p99 {percentile(values, 0.99) * 1000:6.1f} ms"


async def capacity(cluster: LocalCluster, servers: int, cap: int, overflow: int) -> None:
    callers = [
        ScriptedCaller(cluster.balancer_url, [], name=f"k{i}", connect_attempts=1)
        for i in range(cap * servers + overflow)
    ]
    outcomes = await asyncio.gather(*(caller.connect() for caller in callers), return_exceptions=True)
    refused = sum(isinstance(o, ConnectionFailedError) and o.code == "http_503" for o in outcomes)
    others = [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, ConnectionFailedError)]
    scraped = [await cluster.scrape(index) for index in range(1, servers + 1)]
    taken = [int(value(s, "voxpipe_sessions_open")) for s in scraped]
    counted = sum(int(value(s, "voxpipe_sessions_refused_total", reason="full")) for s in scraped)
    print(
        f"  capacity  {len(callers)} tried, cap {cap}/server: taken per server {taken}, "
        f"refused to clients {refused}, refusals counted by servers {counted}"
        + (f", other failures {len(others)}" if others else "")
    )
    await asyncio.gather(*(caller.close() for caller in callers))


async def talk(urls: list[str], sessions: int, count: int) -> tuple[list[ScriptedCaller], list[CallerReport]]:
    callers = [
        ScriptedCaller(urls[i % len(urls)], turns(i, count), name=f"s{i}", shape="ga" if i % 2 else "beta")
        for i in range(sessions)
    ]
    await asyncio.gather(*(caller.connect() for caller in callers))
    try:
        reports = await asyncio.gather(*(caller.talk() for caller in callers))
    finally:
        await asyncio.gather(*(caller.close() for caller in callers))
    return callers, reports


def after(moment: float, series: list[list[float]]) -> list[float]:
    """Per caller, the first time in its series after ``moment``, as seconds since ``moment``."""
    later = [[t - moment for t in times if t > moment] for times in series]
    return [min(times) for times in later if times]


def spread(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"p50 {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


async def until_turns(callers: list[ScriptedCaller], done: int) -> None:
    """Return once the callers finished ``done`` turns between them."""
    while sum(c.report.turns_done for c in callers) < done:  # noqa: ASYNC110 (polling counters is the point)
        await asyncio.sleep(0.01)


async def failover(cluster: LocalCluster, sessions: int, count: int) -> None:
    callers = [
        ScriptedCaller(cluster.balancer_url, turns(i, count), name=f"f{i}", shape="ga" if i % 2 else "beta")
        for i in range(sessions)
    ]
    await asyncio.gather(*(caller.connect() for caller in callers))
    talking = [asyncio.create_task(caller.talk(), name=f"caller {i}") for i, caller in enumerate(callers)]
    try:
        await until_turns(callers, sessions * count // 3)
        on_killed = int(value(await cluster.scrape(1), "voxpipe_sessions_open"))
        killed_at = cluster.kill(1)
        reports = await asyncio.gather(*talking)
    finally:
        for task in talking:
            task.cancel()
        await asyncio.gather(*talking, return_exceptions=True)
        await asyncio.gather(*(caller.close() for caller in callers))
    times = after(killed_at, [r.first_audio_after_reconnect for r in reports])
    back = after(killed_at, [r.reconnected_at for r in reports])
    finished = sum(r.turns_done == count for r in reports)
    reconnected = sum(r.reconnects > 0 for r in reports)
    verified = sum(bool(r.replay_verified) for r in reports)
    print(
        f"  failover  server 1 killed with {on_killed} sessions: {reconnected} callers reconnected, "
        f"{verified} replays verified, {finished}/{sessions} finished every turn\n"
        f"            kill -> reconnected {spread(back)}; kill -> next audio {spread(times)} "
        "(includes speaking the interrupted turn again)"
    )


async def run_size(servers: int, args: argparse.Namespace) -> None:
    print(f"{servers} server(s), {load()}")
    serve_args = ["--max-sessions", str(args.capacity)]
    async with LocalCluster(servers, balancer_config=CONFIG, serve_args=serve_args) as cluster:
        await capacity(cluster, servers, args.capacity, args.overflow)
        await cluster.until_all_up()  # the full servers are ready again for the balancer
        _, through = await talk([cluster.balancer_url], args.sessions, args.turns)
        per_server = [int(value(await cluster.scrape(i), "voxpipe_sessions_total")) for i in
                      range(1, servers + 1)]
        lat_lb = [x for r in through for x in r.latencies_s]
        print(f"  latency   through HAProxy: {ms(lat_lb)}  ({len(lat_lb)} turns; "
              f"sessions per server, capacity phase included: {per_server})")
        _, direct = await talk([s.realtime_url for s in cluster.servers], args.sessions, args.turns)
        lat_direct = [x for r in direct for x in r.latencies_s]
        print(f"  latency   direct:          {ms(lat_direct)}  ({len(lat_direct)} turns)")
        if servers >= 2:
            await failover(cluster, args.sessions, args.turns)
        else:
            print("  failover  n/a with one server (nothing to fail over to)")
    print(f"  done, {load()}")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", type=int, nargs="*", default=[1, 2, 3], help="cluster sizes to run")
    parser.add_argument(
        "--sessions", type=int, default=20, help="concurrent callers, at most --capacity (default: 20)"
    )
    parser.add_argument("--turns", type=int, default=3, help="turns per caller (default: %(default)s)")
    parser.add_argument("--capacity", type=int, default=20, help="--max-sessions per server (default: 20)")
    parser.add_argument("--overflow", type=int, default=10, help="sessions beyond capacity (default: 10)")
    args = parser.parse_args()
    started = time.monotonic()
    for servers in args.servers:
        await run_size(servers, args)
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())

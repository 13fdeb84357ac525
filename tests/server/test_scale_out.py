"""Scale-out behind a real HAProxy (``deploy/haproxy.cfg``) and nginx (``deploy/nginx.conf``): sessions
spread, full servers are skipped, and a server killed mid-call costs its callers nothing but a reconnect.

Needs Debian's ``haproxy`` and ``nginx`` (``./scripts/test`` installs them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from voxpipe.audio import silence
from voxpipe.errors import ConnectionFailedError
from voxpipe.realtime.client import ClientState
from voxpipe.server.engines.testing import encode_tones
from voxpipe.testing.caller import ScriptedCaller, Turn
from voxpipe.testing.cluster import LocalCluster, MetricSamples

pytestmark = pytest.mark.slow

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CONFIGS = {"haproxy": DEPLOY / "haproxy.cfg", "nginx": DEPLOY / "nginx.conf"}
PHRASES = ["hello there", "what time is it", "good morning", "tell me a joke", "how are you"]


def turn(phrase: str) -> Turn:
    audio = silence(200, 24000) + encode_tones(phrase) + silence(500, 24000)
    return Turn(audio=audio, expect=f"You said: {phrase}", said=phrase)


def value(samples: MetricSamples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def cluster(request: pytest.FixtureRequest) -> AsyncIterator[LocalCluster]:
    balancer, servers, serve_args = request.param
    config = CONFIGS[balancer]
    async with LocalCluster(
        servers, balancer_config=config, balancer=balancer, serve_args=serve_args
    ) as running:
        yield running


@pytest.mark.parametrize(
    "cluster", [("haproxy", 2, ["--max-sessions", "2"]), ("nginx", 2, ["--max-sessions", "2"])], indirect=True
)
async def test_a_full_server_is_skipped_by_the_balancer(cluster: LocalCluster) -> None:
    callers = [ScriptedCaller(cluster.balancer_url, [], name=f"f{i}") for i in range(4)]
    for caller in callers:
        await caller.connect()  # one after the other: the balancer may pick a full server each time
    try:
        opened = [value(await cluster.scrape(i), "voxpipe_sessions_open") for i in (1, 2)]
        assert opened == [2, 2]
        assert sum(caller.report.connect_refusals for caller in callers) == 0  # retried by the balancer
        # every server full: the client is refused (HAProxy: the servers' 503; nginx: 503 or, when the
        # last server it tried was the config's unused slot, 502), and may try again later
        with pytest.raises(ConnectionFailedError) as refused:
            await ScriptedCaller(cluster.balancer_url, [], name="x", connect_attempts=1).connect()
        assert refused.value.retryable and refused.value.code in ("http_503", "http_502")
    finally:
        for caller in callers:
            await caller.close()


@pytest.mark.parametrize("cluster", [("haproxy", 3, [])], indirect=True)
async def test_sixty_sessions_survive_a_server_killed_mid_call(cluster: LocalCluster) -> None:
    await _survive_a_kill(cluster, sessions=60, turns=3)


@pytest.mark.parametrize("cluster", [("nginx", 3, [])], indirect=True)
async def test_nginx_too_moves_the_callers_of_a_killed_server(cluster: LocalCluster) -> None:
    await _survive_a_kill(cluster, sessions=9, turns=3)


async def _survive_a_kill(cluster: LocalCluster, *, sessions: int, turns: int) -> None:
    callers = [
        ScriptedCaller(
            cluster.balancer_url,
            [turn(PHRASES[(i + n) % len(PHRASES)]) for n in range(turns)],
            name=f"c{i}",
            shape="ga" if i % 2 else "beta",
            pace=2.0,
        )
        for i in range(sessions)
    ]
    await asyncio.gather(*(caller.connect() for caller in callers))
    talking = [asyncio.create_task(caller.talk(), name=f"caller {i}") for i, caller in enumerate(callers)]
    try:
        while sum(caller.report.turns_done for caller in callers) < sessions * turns // 3:
            await asyncio.sleep(0.02)
        before_kill = await cluster.scrape(1)
        killed_at = cluster.kill(1)
        reports = await asyncio.gather(*talking)
        for _ in range(200):  # callers that were idle on the dead server reconnect by themselves
            if all(c.client is not None and c.client.state is ClientState.CONNECTED for c in callers):
                break
            await asyncio.sleep(0.05)
        survivors = [await cluster.scrape(index) for index in (2, 3)]
    finally:
        for task in talking:
            task.cancel()
        await asyncio.gather(*talking, return_exceptions=True)
        for caller in callers:
            await caller.close()

    assert all(report.turns_done == turns for report in reports)
    killed_open = value(before_kill, "voxpipe_sessions_open")
    assert killed_open > 0, "the killed server had no sessions: the balancer did not spread them"
    reconnects = sum(caller.report.reconnects for caller in callers)
    assert reconnects >= killed_open
    replayed = [report.replay_verified for report in reports if report.replay_verified is not None]
    assert replayed and all(replayed)
    # the survivors account for every session they took: the 60 first connections the killed server did
    # not get, plus every reconnect; and they hold all 60 sessions now
    taken = sum(value(samples, "voxpipe_sessions_total") for samples in survivors)
    assert taken == sessions - value(before_kill, "voxpipe_sessions_total") + reconnects
    assert sum(value(samples, "voxpipe_sessions_open") for samples in survivors) == sessions
    first_audio = "voxpipe_turn_latency_seconds_count"
    answered = sum(value(samples, first_audio, stage="first_audio") for samples in survivors)
    assert answered >= sessions * turns - value(before_kill, first_audio, stage="first_audio")
    assert all(value(samples, "voxpipe_sessions_refused_total", reason="full") == 0 for samples in survivors)
    failover = [t - killed_at for c in callers for t in c.report.first_audio_after_reconnect if t > killed_at]
    assert failover, "no caller heard audio after reconnecting"

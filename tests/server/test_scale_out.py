"""Scale-out behind a real HAProxy (``deploy/haproxy.cfg``): sessions spread, full servers are skipped,
and a server killed mid-call costs its callers nothing but a reconnect.

Needs Debian's ``haproxy`` (``./scripts/test`` installs it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from voxpipe.audio import silence
from voxpipe.realtime.client import ClientState
from voxpipe.server.engines.testing import encode_tones
from voxpipe.testing.caller import ScriptedCaller, Turn
from voxpipe.testing.cluster import LocalCluster, MetricSamples

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"
PHRASES = ["hello there", "what time is it", "good morning", "tell me a joke", "how are you"]


def turn(phrase: str) -> Turn:
    audio = silence(200, 24000) + encode_tones(phrase) + silence(500, 24000)
    return Turn(audio=audio, expect=f"You said: {phrase}", said=phrase)


def value(samples: MetricSamples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def cluster(request: pytest.FixtureRequest) -> AsyncIterator[LocalCluster]:
    servers, serve_args = request.param
    async with LocalCluster(servers, balancer_config=CONFIG, serve_args=serve_args) as running:
        yield running


@pytest.mark.parametrize("cluster", [(2, ["--max-sessions", "2"])], indirect=True)
async def test_a_full_server_is_skipped_by_the_balancer(cluster: LocalCluster) -> None:
    callers = [ScriptedCaller(cluster.balancer_url, [], name=f"f{i}") for i in range(4)]
    for caller in callers:
        await caller.connect()  # one after the other: the balancer may pick a full server each time
    try:
        opened = [value(await cluster.scrape(i), "voxpipe_sessions_open") for i in (1, 2)]
        assert opened == [2, 2]
        assert sum(caller.report.connect_refusals for caller in callers) == 0  # retried inside HAProxy
        with pytest.raises(Exception, match="503"):
            await ScriptedCaller(cluster.balancer_url, [], name="x", connect_attempts=1).connect()
    finally:
        for caller in callers:
            await caller.close()


@pytest.mark.parametrize("cluster", [(3, [])], indirect=True)
async def test_sixty_sessions_survive_a_server_killed_mid_call(cluster: LocalCluster) -> None:
    sessions, turns = 60, 3
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

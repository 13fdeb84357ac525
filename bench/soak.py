"""Soak: realtime sessions with random seeded faults for a bounded time; does anything leak or break?

Each session is a pipeline ``[user aggregator, realtime service, assistant aggregator, recorder]`` against
``voxpipe serve`` (test engines, in this process) through a :class:`~voxpipe.testing.faults.FaultProxy`
playing ``Scenario.random(seed + n, faults_per_session)``; the service alternates between the beta and GA
shapes. A session asks a few questions, then is checked the way the fault scenarios are: the pipeline
still runs, the local context equals the server's conversation item by item, every answer's frames are
balanced and nothing of an answer came after its end, ``conversation_already_has_active_response`` never
came. A session that fails a check (or raises, or hangs past its timeout) counts as a failure; the run
goes on.

Printed: sessions, turns, faults injected (by fault), failures (with their first problem), and RSS, open file
descriptors and asyncio tasks at the start (after a warm-up session) and at the end (after the last
session, a GC and a short settle), so leaks show as a difference from the baseline.

Usage::

    python bench/soak.py                 # 10 minutes (the default)
    python bench/soak.py --ci            # 60 seconds
    python bench/soak.py --seconds 20 --seed 7 --faults 3

Exit status 0 whatever the figures (benchmarks assert nothing), except ``--strict``: 1 when a session
failed or the end figures are off the baseline (tasks or descriptors above it).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from voxpipe.frames.frames import LLMContextFrame, LLMFullResponseEndFrame, LLMMessagesAppendFrame
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineTask
from voxpipe.processors.frame_processor import Frame, FrameDirection, FrameProcessor
from voxpipe.realtime.client import ClientState, ReconnectPolicy
from voxpipe.server import LocalRealtimeServer, ServerConfig
from voxpipe.services.openai_realtime import OpenAIRealtimeLLMService
from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService, OpenAIRealtimeLLMContext
from voxpipe.services.openai_realtime_beta.events import SessionProperties
from voxpipe.testing.conversation_checks import (
    active_response_errors,
    output_outside_answers,
    unbalanced_frames,
)
from voxpipe.testing.faults import RANDOM_FAULTS, FaultKind, FaultProxy, Scenario

QUESTIONS = ("hello there", "how are you today", "tell me something", "thank you")
SOAK_FAULTS = sorted(set(RANDOM_FAULTS) - {"drop_while_audio_streams"})
"""Sessions here are text turns: a drop under the microphone would never fire (a scenario test covers it)."""


class Tape(FrameProcessor):
    """Keeps the frames passing one way."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        self.frames.append(frame)
        await self.push_frame(frame, direction)


@dataclass
class Totals:
    """What the run went through."""

    sessions: int = 0
    turns: int = 0
    failures: list[str] = field(default_factory=list)
    injected: Counter[FaultKind] = field(default_factory=Counter)
    by_fault: Counter[str] = field(default_factory=Counter)
    clean: bool = False


@dataclass(frozen=True)
class Resources:
    """Process figures that must come back to their baseline."""

    rss_mb: float
    fds: int
    tasks: int

    @classmethod
    def now(cls) -> Resources:
        with open("/proc/self/status", encoding="ascii") as status:
            rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        return cls(rss_mb=rss_kb / 1024, fds=len(os.listdir("/proc/self/fd")), tasks=len(asyncio.all_tasks()))


async def one_session(server: LocalRealtimeServer, seed: int, faults: int, totals: Totals) -> None:
    """One call with random faults; a failed check is recorded, not raised."""
    scenario = Scenario.random(seed, faults, kinds=SOAK_FAULTS)
    kind = OpenAIRealtimeLLMService if seed % 2 else OpenAIRealtimeBetaLLMService
    async with FaultProxy(server.realtime_url, scenario) as proxy:
        service = kind(
            api_key="local",
            base_url=proxy.url,
            session_properties=SessionProperties(modalities=["text"], turn_detection=False),
            reconnect=ReconnectPolicy(base_delay=0.02, max_delay=0.2),
        )
        context = OpenAIRealtimeLLMContext(messages=[{"role": "user", "content": QUESTIONS[0]}])
        pair = service.create_context_aggregator(context)
        up, down = Tape(), Tape()
        task = PipelineTask(Pipeline([up, pair.user(), service, pair.assistant(), down]))
        runner = asyncio.create_task(task.run(), name=f"soak.session-{seed}")
        problems: list[str] = []
        try:
            await task.queue_frame(LLMContextFrame(context=context))
            for turn, question in enumerate(QUESTIONS, start=1):
                if turn > 1:
                    await task.queue_frame(
                        LLMMessagesAppendFrame(messages=[{"role": "user", "content": question}])
                    )
                await _settle(service, down, turn)
                totals.turns += 1
            if runner.done():
                problems.append("the pipeline stopped")
            problems += await service.conversation_differences()
            problems += unbalanced_frames(down.frames)
            problems += output_outside_answers(down.frames)
            problems += active_response_errors(up.frames)
        except Exception as exc:  # a hang or a crash is a failure of this session, not of the run
            problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            if not runner.done():
                await task.stop_when_done()
            try:
                await asyncio.wait_for(runner, timeout=10)
            except TimeoutError:
                await task.cancel()
                problems.append("the pipeline did not stop in 10 s")
        totals.sessions += 1
        totals.injected.update(proxy.injected)
        totals.by_fault.update(fired.name.split(":")[0] for fired in proxy.history)
        if problems:
            totals.failures.append(f"session {seed} ({[f.name for f in scenario.faults]}): {problems[0]}")


async def _settle(
    service: OpenAIRealtimeBetaLLMService, down: Tape, answers: int, timeout: float = 20
) -> None:
    def settled() -> bool:
        client = service._client
        ends = sum(isinstance(f, LLMFullResponseEndFrame) for f in down.frames)
        return (
            ends >= answers
            and client is not None
            and client.state is ClientState.CONNECTED
            and not service._responses.in_progress
        )

    async with asyncio.timeout(timeout):
        while not settled():  # noqa: ASYNC110 -- the state of three objects, no one event covers it
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)


async def main(seconds: float, seed: int, faults: int) -> Totals:
    totals = Totals()
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test")) as server:
        await one_session(
            server, seed - 1, 0, Totals()
        )  # warm-up: imports, caches, the server's first session
        gc.collect()
        start = Resources.now()
        deadline = time.monotonic() + seconds
        n = seed
        while time.monotonic() < deadline:
            await one_session(server, n, faults, totals)
            n += 1
        gc.collect()
        await asyncio.sleep(0.5)
        end = Resources.now()
    print(f"soak: {seconds:g} s, seed {seed}, {faults} faults per session")
    print(f"sessions:        {totals.sessions}")
    print(f"turns:           {totals.turns}")
    print(f"faults injected: {sum(totals.injected.values())}")
    for name, count in sorted(totals.by_fault.items()):
        print(f"  {name:<26} {count}")
    print(f"failures:        {len(totals.failures)}")
    for failure in totals.failures[:10]:
        print(f"  {failure}")
    print(f"{'':16} {'start':>10} {'end':>10}")
    print(f"{'RSS (MB)':16} {start.rss_mb:>10.1f} {end.rss_mb:>10.1f}")
    print(f"{'open fds':16} {start.fds:>10} {end.fds:>10}")
    print(f"{'asyncio tasks':16} {start.tasks:>10} {end.tasks:>10}")
    totals.clean = not totals.failures and end.tasks <= start.tasks and end.fds <= start.fds
    print("verdict:         " + ("clean" if totals.clean else "NOT clean"))
    return totals


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="how long to run (default 600)")
    parser.add_argument("--ci", action="store_true", help="a 60 s run, as CI runs it")
    parser.add_argument("--seed", type=int, default=1, help="first session's seed")
    parser.add_argument("--faults", type=int, default=2, help="faults per session")
    parser.add_argument("--strict", action="store_true", help="exit 1 unless the run is clean")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the faults are expected: their warnings are noise here
    totals = asyncio.run(main(60.0 if args.ci else args.seconds, args.seed, args.faults))
    return 1 if args.strict and not totals.clean else 0


if __name__ == "__main__":
    sys.exit(cli())

"""UserIdleProcessor: the callback runs after the timeout of silence, with retries, and stops on False."""

from __future__ import annotations

import pytest

from voxpipe.errors import VoxpipeUsageError
from voxpipe.frames.frames import BotSpeakingFrame, UserStartedSpeakingFrame, UserStoppedSpeakingFrame
from voxpipe.processors.user_idle_processor import IdleState, UserIdleProcessor
from voxpipe.testing import SleepFrame, run_test


async def test_idle_callback_counts_retries_and_stops_when_told() -> None:
    calls: list[int] = []

    async def nudge(processor: UserIdleProcessor, retry_count: int) -> bool:
        calls.append(retry_count)
        return retry_count < 2

    idle = UserIdleProcessor(callback=nudge, timeout=0.05)
    await run_test(
        idle,
        frames_to_send=[
            SleepFrame(sleep=0.2),  # the conversation has not begun: no callback
            UserStartedSpeakingFrame(),
            SleepFrame(sleep=0.2),  # the user speaks: the clock is stopped
            UserStoppedSpeakingFrame(),
            SleepFrame(sleep=0.4),  # two idle periods, then the callback says stop
        ],
    )
    assert calls == [1, 2]
    assert idle.idle_state is IdleState.STOPPED


async def test_activity_restarts_the_clock_and_the_retry_count() -> None:
    calls: list[int] = []

    async def nudge(processor: UserIdleProcessor, retry_count: int) -> bool:
        calls.append(retry_count)
        return True

    idle = UserIdleProcessor(callback=nudge, timeout=0.3)
    frames = [UserStoppedSpeakingFrame()]
    for _ in range(8):  # the bot speaks for 0.4 s: never idle
        frames += [SleepFrame(sleep=0.05), BotSpeakingFrame()]
    frames += [SleepFrame(sleep=0.45), UserStartedSpeakingFrame(), UserStoppedSpeakingFrame()]
    frames += [SleepFrame(sleep=0.45)]
    await run_test(idle, frames_to_send=frames)
    assert calls == [1, 1]  # one idle period before the user spoke, one after: the count started again


async def test_one_argument_callback() -> None:
    seen: list[UserIdleProcessor] = []

    async def nudge(processor: UserIdleProcessor) -> None:
        seen.append(processor)

    idle = UserIdleProcessor(callback=nudge, timeout=0.05)
    await run_test(idle, frames_to_send=[UserStoppedSpeakingFrame(), SleepFrame(sleep=0.13)])
    assert seen and all(p is idle for p in seen)


def test_bad_arguments() -> None:
    async def ok(processor: UserIdleProcessor) -> None:
        return None

    with pytest.raises(VoxpipeUsageError, match="timeout"):
        UserIdleProcessor(callback=ok, timeout=0)
    with pytest.raises(VoxpipeUsageError, match="async"):
        UserIdleProcessor(callback=lambda p: None, timeout=1)

"""UserBotLatencyObserver: user stopped speaking -> bot started speaking, per turn, from push timestamps."""

from __future__ import annotations

import logging

from voxpipe.frames.frames import BotStartedSpeakingFrame, UserStartedSpeakingFrame, UserStoppedSpeakingFrame
from voxpipe.observers.base_observer import FramePushed
from voxpipe.observers.loggers.user_bot_latency_log_observer import UserBotLatencyLogObserver
from voxpipe.observers.user_bot_latency_observer import UserBotLatencyObserver
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor

A, B = FrameProcessor(name="a"), FrameProcessor(name="b")


def pushed(frame, at_ms: int, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> FramePushed:
    return FramePushed(A, B, frame, direction, at_ms * 1_000_000)


async def test_one_latency_per_turn_from_the_push_timestamps() -> None:
    observer = UserBotLatencyObserver()
    measured: list[float] = []
    observer.add_event_handler("on_latency_measured", lambda o, latency: measured.append(latency))
    stopped = UserStoppedSpeakingFrame()
    for data in [
        pushed(UserStartedSpeakingFrame(), 0),
        pushed(stopped, 1000),
        pushed(stopped, 1005),  # the same frame on its next hop: counted once
        pushed(BotStartedSpeakingFrame(), 1700, FrameDirection.UPSTREAM),  # upstream copies are ignored
        pushed(BotStartedSpeakingFrame(), 1750),
        pushed(BotStartedSpeakingFrame(), 1900),  # no user turn pending: nothing measured
        pushed(UserStartedSpeakingFrame(), 3000),
        pushed(UserStoppedSpeakingFrame(), 4000),
        pushed(UserStartedSpeakingFrame(), 4100),  # the user went on: that turn is not over
        pushed(UserStoppedSpeakingFrame(), 5000),
        pushed(BotStartedSpeakingFrame(), 5400),
    ]:
        await observer.on_push_frame(data)
    await observer.on_pipeline_finished()
    assert [round(x, 3) for x in observer.latencies] == [0.75, 0.4]
    assert [round(x, 3) for x in measured] == [0.75, 0.4]


async def test_log_observer_logs_each_turn_and_a_summary(caplog) -> None:
    observer = UserBotLatencyLogObserver()
    with caplog.at_level(logging.INFO, logger="voxpipe.observers.loggers.user_bot_latency_log_observer"):
        await observer.on_push_frame(pushed(UserStoppedSpeakingFrame(), 0))
        await observer.on_push_frame(pushed(BotStartedSpeakingFrame(), 500))
        await observer.on_pipeline_finished()
    text = caplog.text
    assert "bot started speaking: 0.500 s" in text
    assert "over 1 turns: average 0.500 s" in text

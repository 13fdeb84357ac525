"""The playout contract every real-time output keeps, checked on each output (file, WebSocket).

Each output is driven through the same steps and watched at its sink (a recording wrapper around the
output's real sink): what the listener has been handed is the reference, so no check compares the wall
clock with a position. Positions are read in one step with what the sink received (no await between).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from voxpipe.audio import read_wav
from voxpipe.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndFrame,
    ErrorFrame,
    PlaybackPositionFrame,
    StartInterruptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.processors.frame_processor import FrameDirection
from voxpipe.serializers import TwilioFrameSerializer
from voxpipe.transports.file import WavFileOutputParams, WavFileOutputTransport
from voxpipe.transports.playout import AudioOutputTransport, AudioSink, PlayoutParams
from voxpipe.transports.websocket import WebsocketParams, WebsocketServerTransport

from .test_file_transport import Collect
from .test_websocket_fakes import FakeTwilio, assert_no_stray_tasks, tone

_UP = FrameDirection.UPSTREAM
CHUNK_MS = 20


class RecordingSink(AudioSink):
    """Wraps an output's real sink and counts what it was handed."""

    def __init__(self, inner: AudioSink, rate: int) -> None:
        self.inner = inner
        self.rate = rate
        self.bytes = 0
        self.times: list[float] = []  # loop time of each write
        self.changed = asyncio.Event()

    @property
    def ms(self) -> int:
        return self.bytes * 1000 // (self.rate * 2)

    async def write(self, pcm: bytes) -> None:
        self.times.append(asyncio.get_running_loop().time())
        await self.inner.write(pcm)
        self.bytes += len(pcm)
        self.changed.set()

    async def clear(self) -> None:
        await self.inner.clear()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


@dataclass
class Rig:
    task: PipelineTask
    output: AudioOutputTransport
    before: Collect
    lead_ms: int
    sinks: list[RecordingSink] = field(default_factory=list)

    @property
    def sink(self) -> RecordingSink:
        return self.sinks[0]

    async def play(self, ms: int, *, stop: bool = False) -> None:
        pcm = tone(ms, 24000)
        frames = [
            TTSAudioRawFrame(audio=pcm[i : i + 1920], sample_rate=24000) for i in range(0, len(pcm), 1920)
        ]
        await self.task.queue_frames([TTSStartedFrame(), *frames, *([TTSStoppedFrame()] if stop else [])])


def record_sinks(output: AudioOutputTransport, sinks: list[RecordingSink]) -> None:
    open_sink = output.open_sink

    async def recording(rate: int) -> AudioSink:
        sink = RecordingSink(await open_sink(rate), rate)
        sinks.append(sink)
        return sink

    output.open_sink = recording  # type: ignore[method-assign]


@asynccontextmanager
async def file_rig(tmp_path: Path, max_buffer_ms: int) -> AsyncIterator[Rig]:
    output = WavFileOutputTransport(tmp_path / "out.wav", WavFileOutputParams(max_buffer_ms=max_buffer_ms))
    before = Collect()
    task = PipelineTask(Pipeline([before, output]), params=PipelineParams(audio_out_sample_rate=16000))
    rig = Rig(task, output, before, lead_ms=0)
    record_sinks(output, rig.sinks)
    runner = asyncio.create_task(task.run())
    async with asyncio.timeout(5):
        while not rig.sinks:
            await asyncio.sleep(0.005)
    try:
        yield rig
    finally:
        await task.stop_when_done()
        await asyncio.wait_for(runner, timeout=10)
    assert len(read_wav(tmp_path / "out.wav").pcm) == rig.sink.bytes  # the file holds what was played


@asynccontextmanager
async def websocket_rig(tmp_path: Path, max_buffer_ms: int) -> AsyncIterator[Rig]:
    transport = WebsocketServerTransport(
        WebsocketParams(serializer=TwilioFrameSerializer(), max_buffer_ms=max_buffer_ms), port=0
    )
    before = Collect()
    task = PipelineTask(Pipeline([transport.input(), before, transport.output()]))
    rig = Rig(task, transport.output(), before, lead_ms=40)
    record_sinks(transport.output(), rig.sinks)
    runner = asyncio.create_task(task.run())
    port = await transport.wait_listening()
    try:
        async with FakeTwilio(f"ws://127.0.0.1:{port}") as twilio:
            await twilio.start_call()
            yield rig
            await task.stop_when_done()
            await asyncio.wait_for(runner, timeout=10)
        assert len(twilio.media_pcm()) == rig.sink.bytes  # the peer got what was played
    finally:
        await asyncio.wait_for(runner, timeout=10)
    await assert_no_stray_tasks()


RIGS: dict[str, Callable[[Path, int], AbstractAsyncContextManager[Rig]]] = {
    "file": file_rig,
    "websocket": websocket_rig,
}
outputs = pytest.mark.parametrize("make_rig", list(RIGS.values()), ids=list(RIGS))


def assert_position_matches_sink(rig: Rig, position_ms: int, handed_ms: int) -> None:
    """The listener heard at most what the sink got, and at least that minus the lead and one chunk."""
    assert handed_ms - rig.lead_ms - CHUNK_MS - 1 <= position_ms <= handed_ms


@outputs
async def test_the_position_follows_what_the_sink_was_handed(make_rig, tmp_path: Path) -> None:
    async with make_rig(tmp_path, 3000) as rig:
        await rig.play(1000)
        await rig.sink.wait_for(lambda: rig.sink.ms >= 300)
        for _ in range(5):
            position, handed = rig.output.position_ms, rig.sink.ms  # one instant, no await between
            assert_position_matches_sink(rig, position, handed)
            await asyncio.sleep(0.03)
        assert rig.before.of(BotStartedSpeakingFrame, _UP)


@outputs
async def test_an_interruption_reports_the_position_and_stops_the_sink(make_rig, tmp_path: Path) -> None:
    async with make_rig(tmp_path, 3000) as rig:
        await rig.play(2000)
        await rig.sink.wait_for(lambda: rig.sink.ms >= 300)
        await rig.task.queue_frame(StartInterruptionFrame())
        async with asyncio.timeout(5):
            while not rig.before.of(PlaybackPositionFrame, _UP):
                await asyncio.sleep(0.005)
        (reported,) = rig.before.of(PlaybackPositionFrame, _UP)
        assert reported.interrupted
        assert rig.output.position_ms == reported.position_ms  # the same reading of the clock
        handed = rig.sink.ms
        assert_position_matches_sink(rig, reported.position_ms, handed)
        await asyncio.sleep(0.2)
        assert rig.sink.ms == handed  # the unplayed rest was dropped
        assert rig.output.buffered_ms == 0
        assert len(rig.before.of(BotStoppedSpeakingFrame, _UP)) == 1
        # the next answer counts from zero
        await rig.play(100, stop=True)
        await rig.sink.wait_for(lambda: rig.sink.ms >= handed + 100)


@outputs
async def test_the_end_lets_every_buffered_answer_play(make_rig, tmp_path: Path) -> None:
    async with make_rig(tmp_path, 3000) as rig:
        await rig.play(400, stop=True)
        await rig.task.queue_frame(EndFrame())
        await rig.sink.wait_for(lambda: rig.sink.ms >= 400)
    assert rig.sink.ms == 400
    assert rig.output.total_played_ms == 400
    assert len(rig.before.of(BotStoppedSpeakingFrame, _UP)) == 1


@outputs
async def test_the_buffer_and_the_lane_are_bounded_and_nothing_is_lost(make_rig, tmp_path: Path) -> None:
    async with make_rig(tmp_path, 200) as rig:
        limit = rig.output.playout.params.max_pending_frames  # bounded by default
        assert limit is not None and rig.output.max_lane_frames == limit
        await rig.play(4000, stop=True)  # 100 frames of 40 ms: more than the buffer and the lane hold
        most_buffered = most_queued = 0
        async with asyncio.timeout(10):
            while rig.sink.ms < 4000:
                most_buffered = max(most_buffered, rig.output.buffered_ms)
                most_queued = max(most_queued, len(rig.output._lane))
                await asyncio.sleep(0.01)
        # The bound, plus one 40 ms frame (resampled: up to about 80 ms) that crossed it.
        assert 0 < most_buffered <= 200 + 80
        assert most_queued <= limit
    assert rig.sink.ms == 4000


class BrokenSink(AudioSink):
    """A device that fails after a few chunks."""

    def __init__(self) -> None:
        self.chunks = 0

    async def write(self, pcm: bytes) -> None:
        self.chunks += 1
        if self.chunks == 5:
            raise OSError("device unplugged")


class BrokenOutput(AudioOutputTransport):
    """A new output is a sink plus one line."""

    async def open_sink(self, sample_rate: int) -> AudioSink:
        return BrokenSink()


async def test_a_failing_sink_is_reported_and_the_run_still_ends() -> None:
    output = BrokenOutput(PlayoutParams(max_buffer_ms=100))
    before = Collect()
    task = PipelineTask(Pipeline([before, output]))
    rig = Rig(task, output, before, lead_ms=0)
    await rig.play(1000, stop=True)  # more than the buffer: the lane waits for room when the sink fails
    await task.queue_frame(EndFrame())
    await asyncio.wait_for(task.run(), timeout=10)
    errors = before.of(ErrorFrame, _UP)
    assert len(errors) == 1 and "device unplugged" in errors[0].error and not errors[0].fatal
    assert len(before.of(BotStartedSpeakingFrame, _UP)) == len(before.of(BotStoppedSpeakingFrame, _UP)) == 1
    assert output.buffered_ms == 0
    await assert_no_stray_tasks()

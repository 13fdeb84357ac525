"""FrameProcessor: ordering, system-frame priority, interruption, errors, handler tables, metrics."""

from __future__ import annotations

import asyncio
import logging

import pytest

from voxpipe.frames.frames import (
    EndFrame,
    ErrorFrame,
    Frame,
    FunctionCallResultFrame,
    LLMTextFrame,
    MetricsFrame,
    StartInterruptionFrame,
    TextFrame,
    TTSStartedFrame,
    UserStartedSpeakingFrame,
)
from voxpipe.metrics.metrics import ProcessingMetricsData, TTFBMetricsData
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.processors.frame_processor import (
    DEFAULT_MAX_LANE_FRAMES,
    FrameDirection,
    FrameProcessor,
    ProcessorState,
    frame_handler,
)
from voxpipe.testing import run_test

from .conftest import Gate, PassThrough, Recorder


async def _run_until(task: PipelineTask, condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


async def test_ordered_frames_keep_their_order_through_many_processors(no_leaked_tasks) -> None:
    recorder = Recorder()
    task = PipelineTask(Pipeline([*(PassThrough() for _ in range(8)), recorder]))
    await task.queue_frames([TextFrame(str(i)) for i in range(300)])
    await task.stop_when_done()
    await task.run()
    assert recorder.texts() == [str(i) for i in range(300)]
    assert isinstance(recorder.seen[-1][0], EndFrame)
    await no_leaked_tasks()


async def test_a_slow_consumer_holds_producers_back_hop_by_hop_and_no_lane_grows_past_its_bound() -> None:
    first, middle, gate, after = PassThrough(), PassThrough(), Gate(), Recorder()
    assert first.max_lane_frames == DEFAULT_MAX_LANE_FRAMES
    task = PipelineTask(Pipeline([first, middle, gate, after]))
    runner = asyncio.create_task(task.run())
    await task.queue_frames([TextFrame(str(i)) for i in range(300)])
    await gate.entered.wait()  # the gate holds "0": everything else waits behind it
    limit = DEFAULT_MAX_LANE_FRAMES
    await _run_until(task, lambda: len(gate._lane) == limit and len(middle._lane) == limit)
    await asyncio.sleep(0.05)  # time for a lane to grow past its bound, if it could
    # The lane tasks of the first and middle processors wait for room; only the task's feed, which
    # must never wait, filled the first lane past the bound.
    assert len(gate._lane) == limit and len(middle._lane) == limit
    assert len(first._lane) == 300 - 1 - 2 * limit - 2  # two frames in the hands of waiting pushers
    gate.release.set()
    await task.stop_when_done()
    await runner
    assert after.texts() == [str(i) for i in range(300)]  # nothing lost, nothing reordered


async def test_system_frames_overtake_queued_ordered_frames() -> None:
    gate, after = Gate(), Recorder()
    task = PipelineTask(Pipeline([gate, after]))
    runner = asyncio.create_task(task.run())
    await task.queue_frames([TextFrame("a"), TextFrame("b")])
    await gate.entered.wait()
    await task.queue_frame(UserStartedSpeakingFrame())
    await _run_until(task, lambda: any(isinstance(f, UserStartedSpeakingFrame) for f, _ in after.seen))
    assert after.texts() == []  # the system frame arrived while "a" and "b" were still held
    gate.release.set()
    await task.stop_when_done()
    await runner
    kinds = [type(f).__name__ for f, _ in after.seen]
    assert kinds.index("UserStartedSpeakingFrame") < kinds.index("TextFrame")
    assert after.texts() == ["a", "b"]


async def test_interruption_cancels_current_work_and_drops_queued_frames(no_leaked_tasks) -> None:
    gate, after = Gate(), Recorder()
    task = PipelineTask(Pipeline([gate, after]))
    runner = asyncio.create_task(task.run())
    result = FunctionCallResultFrame(function_name="f", tool_call_id="c1", arguments={}, result=1)
    await task.queue_frames([TextFrame("a"), TextFrame("b"), result, TTSStartedFrame()])
    await gate.entered.wait()
    await _run_until(task, lambda: len(gate._lane) == 3)
    await task.queue_frame(StartInterruptionFrame())
    await _run_until(task, lambda: any(isinstance(f, FunctionCallResultFrame) for f, _ in after.seen))
    assert gate.cancelled == ["a"]
    # "b" and the TTSStartedFrame were dropped; the uninterruptible result survived.
    assert [type(f).__name__ for f, _ in after.seen if not type(f).__name__.startswith("Start")] == [
        "FunctionCallResultFrame"
    ]
    # The processor keeps working after the interruption.
    gate.release.set()
    await task.queue_frame(TextFrame("c"))
    await task.stop_when_done()
    await runner
    assert after.texts() == ["c"]
    assert gate.finished == ["c"]
    await no_leaked_tasks()


async def test_uninterruptible_frame_in_progress_is_not_cancelled() -> None:
    class SlowResult(FrameProcessor):
        def __init__(self) -> None:
            super().__init__()
            self.entered = asyncio.Event()
            self.release = asyncio.Event()
            self.done: list[str] = []

        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            if isinstance(frame, FunctionCallResultFrame):
                self.entered.set()
                await self.release.wait()
                self.done.append(frame.tool_call_id)
            await self.push_frame(frame, direction)

    slow = SlowResult()
    task = PipelineTask(Pipeline([slow]))
    runner = asyncio.create_task(task.run())
    await task.queue_frames(
        [
            FunctionCallResultFrame(function_name="f", tool_call_id="keep", arguments={}, result=None),
            TextFrame("x"),
        ]
    )
    await slow.entered.wait()
    await task.queue_frame(StartInterruptionFrame())
    slow.release.set()
    await task.stop_when_done()
    await runner
    assert slow.done == ["keep"]


async def test_exception_becomes_upstream_error_and_pipeline_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Fails(FrameProcessor):
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            if isinstance(frame, TextFrame) and frame.text == "bad":
                raise RuntimeError("cannot handle bad")
            await self.push_frame(frame, direction)

    with caplog.at_level(logging.ERROR):
        down, up = await run_test(
            Fails(),
            frames_to_send=[TextFrame("ok"), TextFrame("bad"), TextFrame("fine")],
            expected_down_frames=[TextFrame, TextFrame],
            expected_up_frames=[ErrorFrame],
        )
    assert [f.text for f in down] == ["ok", "fine"]
    error = up[0]
    assert isinstance(error, ErrorFrame)
    assert not error.fatal
    assert "cannot handle bad" in error.error
    assert isinstance(error.exception, RuntimeError)


class Tagger(FrameProcessor):
    """Declares handlers: more specific ones win; other frames pass through untouched."""

    @frame_handler(TextFrame)
    async def on_text(self, frame: TextFrame, direction: FrameDirection) -> None:
        await self.push_frame(TextFrame(f"text:{frame.text}"), direction)

    @frame_handler(LLMTextFrame)
    async def on_llm_text(self, frame: LLMTextFrame, direction: FrameDirection) -> None:
        await self.push_frame(TextFrame(f"llm:{frame.text}"), direction)


class LoudTagger(Tagger):
    async def on_text(self, frame: TextFrame, direction: FrameDirection) -> None:  # an override, unmarked
        await self.push_frame(TextFrame(f"TEXT:{frame.text}"), direction)


async def test_handler_table_dispatch_walks_the_mro() -> None:
    down, _ = await run_test(Tagger(), frames_to_send=[TextFrame("a"), LLMTextFrame("b"), TTSStartedFrame()])
    assert [getattr(f, "text", type(f).__name__) for f in down] == ["text:a", "llm:b", "TTSStartedFrame"]
    down, _ = await run_test(LoudTagger(), frames_to_send=[TextFrame("a")])
    assert [f.text for f in down] == ["TEXT:a"]


async def test_processor_without_handlers_forwards_nothing_by_itself() -> None:
    class Silent(FrameProcessor):
        pass

    # It swallows even the EndFrame, so the run is cancelled; the task stops anyway.
    down, _ = await run_test(
        Silent(), frames_to_send=[TextFrame("lost")], expected_down_frames=[], send_end_frame=False
    )
    assert down == []


async def test_metrics_are_pushed_when_enabled() -> None:
    class Measured(FrameProcessor):
        def can_generate_metrics(self) -> bool:
            return True

        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            if isinstance(frame, TextFrame):
                await self.start_ttfb_metrics()
                await self.start_processing_metrics()
                await self.stop_ttfb_metrics()
                await self.stop_ttfb_metrics()  # a second stop without a start reports nothing
                await self.stop_processing_metrics()
            await self.push_frame(frame, direction)

    down, _ = await run_test(
        Measured(name="measured"),
        frames_to_send=[TextFrame("x")],
        params=PipelineParams(enable_metrics=True),
        expected_down_frames=[MetricsFrame, MetricsFrame, TextFrame],
    )
    ttfb, processing = down[0].data[0], down[1].data[0]
    assert isinstance(ttfb, TTFBMetricsData)
    assert isinstance(processing, ProcessingMetricsData)
    assert ttfb.processor == "measured"
    assert 0 <= ttfb.value <= processing.value
    # Disabled by default: no metrics frames.
    await run_test(Measured(), frames_to_send=[TextFrame("x")], expected_down_frames=[TextFrame])


async def test_start_frame_settings_reach_processors() -> None:
    probe = PassThrough()
    await run_test(
        probe,
        frames_to_send=[],
        params=PipelineParams(
            audio_in_sample_rate=8000, audio_out_sample_rate=16000, allow_interruptions=False
        ),
    )
    assert (probe.audio_in_sample_rate, probe.audio_out_sample_rate) == (8000, 16000)
    assert probe.interruptions_allowed is False
    assert probe.state is ProcessorState.CLOSED


async def test_background_task_failure_is_reported_upstream() -> None:
    class Spawner(PassThrough):
        async def start(self, frame) -> None:
            self.create_task(self._explode(), name="explode")

        async def _explode(self) -> None:
            raise ValueError("background boom")

    _, up = await run_test(Spawner(), frames_to_send=[], expected_up_frames=[ErrorFrame])
    assert "background boom" in up[0].error

"""Pipelines and tasks: nesting, clean shutdown, fatal errors, observers, idle timeout, the runner."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from voxpipe.errors import VoxpipeStateError, VoxpipeUsageError
from voxpipe.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    CancelTaskFrame,
    EndFrame,
    EndTaskFrame,
    ErrorFrame,
    Frame,
    StartFrame,
    TextFrame,
    UserStartedSpeakingFrame,
)
from voxpipe.observers.base_observer import BaseObserver, FramePushed
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.runner import PipelineRunner
from voxpipe.pipeline.task import CANCEL_TIMEOUT_S, PipelineTask, TaskState
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor, ProcessorState

from .conftest import Gate, PassThrough, Recorder


class Echo(FrameProcessor):
    """Sends every TextFrame back upstream as well as downstream."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, TextFrame) and direction is FrameDirection.DOWNSTREAM:
            await self.push_frame(TextFrame(f"echo:{frame.text}"), FrameDirection.UPSTREAM)
        await self.push_frame(frame, direction)


async def test_nested_pipelines_pass_frames_both_ways(no_leaked_tasks) -> None:
    head, tail = Recorder("head"), Recorder("tail")
    inner = Pipeline([PassThrough(), Pipeline([Echo()]), PassThrough()])
    task = PipelineTask(Pipeline([head, inner, tail]))
    reached_up: list[str] = []

    @task.event_handler("on_frame_reached_upstream")
    async def on_up(task: PipelineTask, frame: Frame) -> None:
        reached_up.append(frame.text)

    await task.queue_frames([TextFrame("1"), TextFrame("2"), EndFrame()])
    await task.run()
    assert tail.texts() == ["1", "2"]
    assert head.texts(FrameDirection.UPSTREAM) == ["echo:1", "echo:2"]
    assert reached_up == ["echo:1", "echo:2"]
    assert len(inner.processors_recursive()) == 4
    await no_leaked_tasks()


def test_pipeline_rejects_bad_stages() -> None:
    with pytest.raises(VoxpipeUsageError, match="FrameProcessor"):
        Pipeline([PassThrough(), "not a processor"])  # type: ignore[list-item]
    stage = PassThrough()
    with pytest.raises(VoxpipeUsageError, match="twice"):
        Pipeline([stage, stage])


async def test_cancel_stops_a_blocked_pipeline_promptly(no_leaked_tasks) -> None:
    gate, tail = Gate(), Recorder()
    task = PipelineTask(Pipeline([gate, tail]))
    events: list[str] = []
    task.add_event_handler("on_pipeline_cancelled", lambda t, f: events.append(type(f).__name__))
    task.add_event_handler("on_pipeline_finished", lambda t, f: events.append("finished"))
    runner = asyncio.create_task(task.run())
    await task.queue_frames([TextFrame("stuck"), TextFrame("queued"), EndFrame()])
    await gate.entered.wait()
    started = time.monotonic()
    await task.cancel()
    await runner
    assert time.monotonic() - started < CANCEL_TIMEOUT_S  # cancelled, not stopped by the fallback timeout
    assert gate.cancelled == ["stuck"]
    assert tail.texts() == []
    assert isinstance(tail.seen[-1][0], CancelFrame)
    assert events == ["CancelFrame", "finished"]
    assert task.has_finished()
    await no_leaked_tasks()


async def test_fatal_error_ends_the_run_cleanly(no_leaked_tasks) -> None:
    class Fatal(FrameProcessor):
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            if isinstance(frame, TextFrame):
                await self.push_error("the service refused the key", fatal=True)
                return
            await self.push_frame(frame, direction)

    errors: list[ErrorFrame] = []
    gate = Gate()
    task = PipelineTask(Pipeline([Fatal(), gate]))
    task.add_event_handler("on_pipeline_error", lambda t, f: errors.append(f))
    await task.queue_frame(TextFrame("go"))  # no EndFrame: only the fatal error can end this run
    await asyncio.wait_for(task.run(), timeout=5)
    assert [e.error for e in errors] == ["the service refused the key"]
    assert errors[0].fatal
    assert task.state is TaskState.FINISHED
    await no_leaked_tasks()


async def test_processors_can_ask_the_task_to_end_or_cancel() -> None:
    class Requester(PassThrough):
        def __init__(self, request: Frame) -> None:
            super().__init__()
            self._request = request

        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, TextFrame):
                await self.push_frame(self._request, FrameDirection.UPSTREAM)

    for request, final in ((EndTaskFrame(), EndFrame), (CancelTaskFrame(), CancelFrame)):
        tail = Recorder()
        task = PipelineTask(Pipeline([Requester(request), tail]))
        await task.queue_frame(TextFrame("x"))
        await asyncio.wait_for(task.run(), timeout=5)
        assert isinstance(tail.seen[-1][0], final)


async def test_a_task_runs_once() -> None:
    task = PipelineTask(Pipeline([PassThrough()]))
    await task.queue_frame(EndFrame())
    await task.run()
    with pytest.raises(VoxpipeStateError, match="runs once"):
        await task.run()


async def test_idle_timeout_cancels_a_quiet_run() -> None:
    task = PipelineTask(Pipeline([PassThrough()]), idle_timeout_secs=0.05)
    fired: list[bool] = []
    task.add_event_handler("on_idle_timeout", lambda t: fired.append(True))
    await asyncio.wait_for(task.run(), timeout=5)
    assert fired == [True]


class CountingObserver(BaseObserver):
    def __init__(self, delay: float = 0.0) -> None:
        self.pushes: list[FramePushed] = []
        self.delay = delay
        self.finished = False

    async def on_push_frame(self, data: FramePushed) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.pushes.append(data)

    async def on_pipeline_finished(self) -> None:
        self.finished = True


async def test_observers_see_every_push_in_order() -> None:
    observer = CountingObserver()
    a, b = PassThrough(name="a"), PassThrough(name="b")
    task = PipelineTask(Pipeline([a, b], name="p"), observers=[observer], name="t")
    await task.queue_frames([TextFrame("x"), EndFrame()])
    await task.run()
    text_hops = [
        (p.source.name, p.destination.name) for p in observer.pushes if isinstance(p.frame, TextFrame)
    ]
    assert text_hops == [
        ("t::Source", "p"),
        ("p::Source", "a"),
        ("a", "b"),
        ("b", "p::Sink"),
        ("p", "t::Sink"),
    ]
    assert observer.finished
    stamps = [p.timestamp for p in observer.pushes]
    assert stamps == sorted(stamps)


async def test_a_slow_observer_does_not_slow_the_pipeline() -> None:
    slow = CountingObserver(delay=0.01)
    tail = Recorder()
    task = PipelineTask(Pipeline([PassThrough(), tail]), observers=[slow])
    pushes_when_done: list[int] = []

    @task.event_handler("on_pipeline_finished")
    def done(task: PipelineTask, frame: Frame) -> None:
        pushes_when_done.append(len(slow.pushes))

    finished_at: list[int] = []

    class Watch(FrameProcessor):
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            if isinstance(frame, EndFrame):
                finished_at.append(len(slow.pushes))
            await self.push_frame(frame, direction)

    task = PipelineTask(Pipeline([PassThrough(), Watch(), tail]), observers=[slow])
    await task.queue_frames([*(TextFrame(str(i)) for i in range(30)), EndFrame()])
    await task.run()
    assert tail.texts() == [str(i) for i in range(30)]
    # The EndFrame got through while the observer had seen only a part of the pushes...
    assert finished_at[0] < 30
    # ...and the observer still received every push before the run was over.
    assert len(slow.pushes) >= 4 * 30
    assert slow.finished


async def test_turn_tracking_observer_counts_turns() -> None:
    task = PipelineTask(Pipeline([PassThrough(), PassThrough()]))
    assert task.turn_tracking_observer is not None
    turns: list[tuple[int, bool]] = []
    task.turn_tracking_observer.add_event_handler(
        "on_turn_ended", lambda obs, n, duration, interrupted: turns.append((n, interrupted))
    )
    await task.queue_frames(
        [
            UserStartedSpeakingFrame(),
            BotStartedSpeakingFrame(),
            BotStoppedSpeakingFrame(),
            UserStartedSpeakingFrame(),
            BotStartedSpeakingFrame(),
            UserStartedSpeakingFrame(),
            EndFrame(),
        ]
    )
    await task.run()
    assert turns == [(1, False), (2, True), (3, False)]


async def test_event_handlers_sync_async_ordered_and_never_blocking() -> None:
    task = PipelineTask(Pipeline([PassThrough()]))
    calls: list[str] = []
    release = asyncio.Event()

    @task.event_handler("on_pipeline_started")
    async def slow(task: PipelineTask, frame: StartFrame) -> None:
        calls.append("slow-start")
        await release.wait()
        calls.append("slow-end")

    task.add_event_handler("on_pipeline_started", lambda t, f: calls.append("sync"))

    @task.event_handler("on_pipeline_ended")
    def broken(task: PipelineTask, frame: EndFrame) -> None:
        calls.append("ended")
        raise RuntimeError("a buggy handler must not break the task")

    runner = asyncio.create_task(task.run())
    await task.queue_frames([TextFrame("x"), EndFrame()])
    # The run goes to its end while the first handler is still waiting.
    while not task._final_frame:
        await asyncio.sleep(0.001)
    assert calls == ["slow-start"]
    release.set()
    await runner
    assert calls == ["slow-start", "slow-end", "sync", "ended"]


def test_unknown_event_names_are_rejected() -> None:
    task = PipelineTask(Pipeline([PassThrough()]))
    with pytest.raises(VoxpipeUsageError, match="on_pipeline_started"):
        task.add_event_handler("on_pipeline_strated", lambda *a: None)


async def test_runner_cancels_the_task_on_sigint(no_leaked_tasks) -> None:
    gate = Gate()
    task = PipelineTask(Pipeline([gate]))
    await task.queue_frame(TextFrame("held"))
    runner = PipelineRunner()
    running = asyncio.create_task(runner.run(task))
    await gate.entered.wait()
    os.kill(os.getpid(), signal.SIGINT)
    await asyncio.wait_for(running, timeout=5)
    assert gate.cancelled == ["held"]
    assert task.has_finished()
    await no_leaked_tasks()


async def test_a_processor_that_fails_to_start_ends_the_run(no_leaked_tasks) -> None:
    class Broken(PassThrough):
        async def start(self, frame: StartFrame) -> None:
            raise OSError("device busy")

    errors: list[ErrorFrame] = []
    tail = Recorder()
    task = PipelineTask(Pipeline([Broken(), tail]))
    task.add_event_handler("on_pipeline_error", lambda t, f: errors.append(f))
    await asyncio.wait_for(task.run(), timeout=5)  # no EndFrame queued: only the failure ends it
    assert errors and errors[0].fatal and "device busy" in errors[0].error
    assert any(isinstance(f, StartFrame) for f, _ in tail.seen)  # the others started, then were cancelled
    assert isinstance(tail.seen[-1][0], CancelFrame)
    await no_leaked_tasks()


async def test_a_failing_helper_ends_the_run_with_its_error(no_leaked_tasks) -> None:
    class Unreceptive(PassThrough):
        """Breaks the rule that receiving a frame never raises: the task's feed task fails on it."""

        async def queue_frame(
            self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM
        ) -> None:
            if isinstance(frame, TextFrame):
                raise RuntimeError("cannot take text")
            await super().queue_frame(frame, direction)

    tail = Recorder()
    task = PipelineTask(Pipeline([Unreceptive(), tail]))
    await task.queue_frames([TextFrame("hello"), EndFrame()])
    with pytest.raises(RuntimeError, match="cannot take text"):
        await asyncio.wait_for(task.run(), timeout=5)  # without the task group: a run that never ends
    assert task.has_finished()
    assert tail.state is ProcessorState.CLOSED  # the processors were cleaned up
    await no_leaked_tasks()

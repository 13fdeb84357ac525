"""pipecat worker of ``bench/framework_overhead.py``: one round of measurements, printed as one JSON line.

Runs in the throwaway pipecat venv the driver builds (pipecat-ai==0.0.75), never in voxpipe's venv. For one
round alone: ``<venv>/bin/python bench/_pipecat_overhead.py --config fastest``.

Configurations:

- ``default``: ``PipelineTask(pipeline)``.
- ``fastest``: ``PipelineTask(pipeline, enable_turn_tracking=False, idle_timeout_secs=None)``. In 0.0.75
  these are the two defaults that cost something per frame and can be turned off: turn tracking adds a
  ``TurnTrackingObserver`` behind the task's observer proxy, so every hop puts a ``FramePushed`` on the
  observer's queue and wakes its task; the idle timeout puts every frame reaching the task's sink on an
  idle queue and wakes the idle-monitor task (with a fresh ``wait_for`` timer). Heartbeats, metrics and
  watchdog timers are already off by default. What stays on in both: the task's ``TaskObserver`` proxy
  (a ``FramePushed`` built and awaited at every hop, even with no observer) and the clock read and
  ``logger.trace`` f-string at every push.

loguru's default DEBUG handler is replaced by a WARNING one in both configurations (voxpipe's stdlib
logging is at WARNING unconfigured), so neither framework formats log lines the other would not.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from loguru import logger
from pipecat.frames.frames import EndFrame, InputAudioRawFrame, StartFrame, TextFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.runner import PipelineRunner
from pipecat.pipeline.task import PipelineTask
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from framework_overhead import run_worker

_MEASURED = (TextFrame, InputAudioRawFrame)
_STOP_TIMEOUT_S = 10.0

CONFIGS: dict[str, tuple[dict[str, Any], str]] = {
    "default": (
        {},
        "PipelineTask(pipeline): turn tracking on, idle timeout 300 s, run by PipelineRunner; "
        "loguru handler at WARNING in both pipecat configurations",
    ),
    "fastest": (
        {"enable_turn_tracking": False, "idle_timeout_secs": None},
        "PipelineTask(pipeline, enable_turn_tracking=False, idle_timeout_secs=None): no TurnTrackingObserver "
        "(its queue put + task wake-up at every hop), no idle monitor (a queue put + task wake-up per frame "
        "at the task's sink); heartbeats/metrics/watchdog timers are off by default anyway",
    ),
}


class PassThrough(FrameProcessor):
    """Pushes every frame on, unchanged: the cheapest useful processor."""

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        """Let the base class see the frame (it handles StartFrame), then push it on."""
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)


class ArrivalSink(FrameProcessor):
    """Last processor: reports each measured frame's arrival, notes the start, and pushes everything on."""

    def __init__(self, on_arrival: Callable[[Any], None], started: asyncio.Event) -> None:
        super().__init__(name="ArrivalSink")
        self._on_arrival = on_arrival
        self._started = started

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        """Report a measured frame (or the StartFrame), then push the frame on."""
        await super().process_frame(frame, direction)
        if isinstance(frame, _MEASURED):
            self._on_arrival(frame)
        elif isinstance(frame, StartFrame):
            self._started.set()
        await self.push_frame(frame, direction)


class PipecatRig:
    """A pipecat ``PipelineTask`` in one configuration, run by pipecat's ``PipelineRunner``."""

    def __init__(self, hops: int, task_kwargs: dict[str, Any], on_arrival: Callable[[Any], None]) -> None:
        self._started = asyncio.Event()
        stages: list[FrameProcessor] = [PassThrough() for _ in range(hops)]
        stages.append(ArrivalSink(on_arrival, self._started))
        self._task = PipelineTask(Pipeline(stages), **task_kwargs)
        self._run: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run the task; return once the StartFrame has reached the sink."""
        runner = PipelineRunner(handle_sigint=False)
        self._run = asyncio.get_running_loop().create_task(runner.run(self._task))
        await asyncio.wait_for(self._started.wait(), _STOP_TIMEOUT_S)

    async def queue(self, frame: Any) -> None:
        """Queue a frame through the task's push queue."""
        await self._task.queue_frame(frame)

    async def stop(self) -> None:
        """End the run with an EndFrame and wait for it (cancel it if it does not end)."""
        if self._run is None:
            return
        await self._task.queue_frame(EndFrame())
        try:
            await asyncio.wait_for(self._run, _STOP_TIMEOUT_S)
        except TimeoutError:
            logger.warning("pipecat task did not end; cancelled")


class PipecatAdapter:
    """The harness's view of pipecat."""

    framework = "pipecat"

    def version(self) -> str:
        """The installed pipecat-ai version."""
        return version("pipecat-ai")

    def describe(self, config: str) -> str:
        """What the configuration is."""
        return CONFIGS[config][1]

    def text_frame(self, text: str) -> Any:
        """A new TextFrame."""
        return TextFrame(text=text)

    def audio_frame(self, pcm: bytes) -> Any:
        """A new InputAudioRawFrame, 16 kHz mono."""
        return InputAudioRawFrame(audio=pcm, sample_rate=16000, num_channels=1)

    def build(self, hops: int, config: str, on_arrival: Callable[[Any], None]) -> PipecatRig:
        """A rig of ``hops`` pass-through processors and a sink, in configuration ``config``."""
        return PipecatRig(hops, CONFIGS[config][0], on_arrival)


if __name__ == "__main__":
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    run_worker(PipecatAdapter())

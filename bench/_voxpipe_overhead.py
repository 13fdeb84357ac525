"""voxpipe worker of ``bench/framework_overhead.py``: one round of measurements, printed as one JSON line.

Run by the driver (``.venv/bin/python bench/framework_overhead.py``), not by hand; for one round alone:
``.venv/bin/python bench/_voxpipe_overhead.py --config default``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from framework_overhead import run_worker
from voxpipe.frames.frames import EndFrame, InputAudioRawFrame, StartFrame, TextFrame
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.runner import PipelineRunner
from voxpipe.pipeline.task import PipelineTask
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor

_MEASURED = (TextFrame, InputAudioRawFrame)
_STOP_TIMEOUT_S = 10.0


class PassThrough(FrameProcessor):
    """Pushes every frame on, unchanged: the cheapest useful processor."""

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        """Let the base class see the frame, then push it on."""
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


class VoxpipeRig:
    """A voxpipe ``PipelineTask`` in its default configuration, run by a ``PipelineRunner``."""

    def __init__(self, hops: int, on_arrival: Callable[[Any], None]) -> None:
        self._started = asyncio.Event()
        stages: list[FrameProcessor] = [PassThrough() for _ in range(hops)]
        stages.append(ArrivalSink(on_arrival, self._started))
        self._task = PipelineTask(Pipeline(stages))
        self._run: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run the task; return once the StartFrame has reached the sink."""
        runner = PipelineRunner(handle_sigint=False, handle_sigterm=False)
        self._run = asyncio.get_running_loop().create_task(runner.run(self._task))
        await asyncio.wait_for(self._started.wait(), _STOP_TIMEOUT_S)

    async def queue(self, frame: Any) -> None:
        """Queue a frame through the task's feed queue."""
        await self._task.queue_frame(frame)

    async def stop(self) -> None:
        """End the run with an EndFrame and wait for it (cancel it if it does not end)."""
        if self._run is None:
            return
        await self._task.queue_frame(EndFrame())
        try:
            await asyncio.wait_for(self._run, _STOP_TIMEOUT_S)
        except TimeoutError:
            logging.getLogger(__name__).warning("voxpipe task did not end; cancelled")


class VoxpipeAdapter:
    """The harness's view of voxpipe."""

    framework = "voxpipe"

    def version(self) -> str:
        """The installed voxpipe version."""
        return version("voxpipe")

    def describe(self, config: str) -> str:
        """What the configuration is."""
        if config != "default":
            raise ValueError(f"voxpipe has one configuration here, 'default', not {config!r}")
        return (
            "PipelineTask(pipeline): default observers (TurnTrackingObserver), idle timeout 300 s, "
            "run by PipelineRunner"
        )

    def text_frame(self, text: str) -> Any:
        """A new TextFrame."""
        return TextFrame(text=text)

    def audio_frame(self, pcm: bytes) -> Any:
        """A new InputAudioRawFrame, 16 kHz mono."""
        return InputAudioRawFrame(audio=pcm, sample_rate=16000, num_channels=1)

    def build(self, hops: int, config: str, on_arrival: Callable[[Any], None]) -> VoxpipeRig:
        """A rig of ``hops`` pass-through processors and a sink."""
        self.describe(config)
        return VoxpipeRig(hops, on_arrival)


if __name__ == "__main__":
    run_worker(VoxpipeAdapter())

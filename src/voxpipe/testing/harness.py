"""``run_test``: run one processor between a source and a sink, and check what came out of it.

    down, up = await run_test(
        MyProcessor(),
        frames_to_send=[TextFrame("hi")],
        expected_down_frames=[TextFrame],
    )

The processor runs inside a real :class:`PipelineTask` (StartFrame, ordered lanes, EndFrame), so what the
test sees is what a pipeline would see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from voxpipe.frames.base import Frame, SystemFrame
from voxpipe.frames.control import CancelFrame, CancelTaskFrame, EndFrame, StartFrame
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor

__all__ = ["FrameCollector", "SleepFrame", "run_test"]


@dataclass(slots=True, kw_only=True)
class SleepFrame(SystemFrame):
    """Not a real frame: tells :func:`run_test`'s source to wait before sending the next frame."""

    sleep: float = 0.1


class FrameCollector(FrameProcessor):
    """Records every frame passing by in one direction, then passes it on."""

    def __init__(self, direction: FrameDirection, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._watch = direction
        self.frames: list[Frame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Record frames going the watched way; pass everything on."""
        if direction is self._watch:
            self.frames.append(frame)
        await self.push_frame(frame, direction)


class _Source(FrameCollector):
    """Sends the test's frames into the processor and records what comes back up."""

    def __init__(self, frames: Sequence[Frame]) -> None:
        super().__init__(FrameDirection.UPSTREAM, name="run_test::source")
        self._frames = list(frames)

    async def start(self, frame: StartFrame) -> None:
        self.create_task(self._send(), name="send")

    async def _send(self) -> None:
        for frame in self._frames:
            if isinstance(frame, SleepFrame):
                await asyncio.sleep(frame.sleep)
            elif isinstance(frame, CancelTaskFrame):
                await self.push_frame(frame, FrameDirection.UPSTREAM)
            else:
                await self.push_frame(frame)


def _check(label: str, got: list[Frame], expected: Sequence[type[Frame]] | None) -> None:
    if expected is None:
        return
    got_names = [type(frame).__name__ for frame in got]
    want_names = [frame_type.__name__ for frame_type in expected]
    if len(got) != len(expected) or not all(
        isinstance(frame, frame_type) for frame, frame_type in zip(got, expected, strict=False)
    ):
        raise AssertionError(f"{label} frames differ:\n  expected {want_names}\n  received {got_names}")


async def run_test(
    processor: FrameProcessor,
    *,
    frames_to_send: Sequence[Frame],
    expected_down_frames: Sequence[type[Frame]] | None = None,
    expected_up_frames: Sequence[type[Frame]] | None = None,
    ignore_start: bool = True,
    send_end_frame: bool = True,
    params: PipelineParams | None = None,
    timeout: float = 10.0,
) -> tuple[list[Frame], list[Frame]]:
    """Run ``processor`` on ``frames_to_send`` and return the frames it sent down and up.

    Args:
        processor: the processor under test.
        frames_to_send: frames pushed into it in order (a :class:`SleepFrame` waits instead).
        expected_down_frames: when given, the types the downstream frames must have, in order.
        expected_up_frames: when given, the same for upstream frames.
        ignore_start: leave the StartFrame out of the downstream frames.
        send_end_frame: end the run with an EndFrame after the frames (else ask the task to cancel the
            run), and leave the End/Cancel frame out of what is returned.
        params: settings for the StartFrame.
        timeout: fail if the run has not ended after this many seconds.

    Returns:
        ``(down_frames, up_frames)`` as received at either end.

    Raises:
        AssertionError: the frames do not match the expected types, or the run did not end in time.
    """
    frames = list(frames_to_send)
    frames.append(EndFrame() if send_end_frame else CancelTaskFrame())
    source = _Source(frames)
    sink = FrameCollector(FrameDirection.DOWNSTREAM, name="run_test::sink")
    task = PipelineTask(
        Pipeline([source, processor, sink]),
        params=params or PipelineParams(),
        idle_timeout_secs=None,
        enable_turn_tracking=False,
    )
    try:
        async with asyncio.timeout(timeout):
            await task.run()
    except TimeoutError:
        raise AssertionError(f"run_test: the pipeline did not end within {timeout} s") from None
    down = [f for f in sink.frames if not (ignore_start and isinstance(f, StartFrame))]
    down = [f for f in down if not isinstance(f, EndFrame | CancelFrame)]
    up = list(source.frames)
    _check("downstream", down, expected_down_frames)
    _check("upstream", up, expected_up_frames)
    return down, up

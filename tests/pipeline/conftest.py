"""Small processors shared by the core tests."""

from __future__ import annotations

import asyncio

import pytest

from voxpipe.frames.frames import Frame, TextFrame
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor


class PassThrough(FrameProcessor):
    """Passes every frame on."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)


class Recorder(FrameProcessor):
    """Records every frame it sees (both directions), passes it on."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name=name)
        self.seen: list[tuple[Frame, FrameDirection]] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        self.seen.append((frame, direction))
        await self.push_frame(frame, direction)

    def texts(self, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> list[str]:
        return [f.text for f, d in self.seen if isinstance(f, TextFrame) and d is direction]


class Gate(FrameProcessor):
    """Holds each TextFrame until released; records starts, cancellations and completions."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.entered = asyncio.Event()
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self.finished: list[str] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, TextFrame):
            self.started.append(frame.text)
            self.entered.set()
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled.append(frame.text)
                raise
            self.finished.append(frame.text)
        await self.push_frame(frame, direction)


@pytest.fixture
def no_leaked_tasks():
    """Fail if a test leaves tasks running on the loop."""

    async def check() -> None:
        await asyncio.sleep(0)
        current = asyncio.current_task()
        leftover = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        assert not leftover, f"tasks left running: {[t.get_name() for t in leftover]}"

    return check

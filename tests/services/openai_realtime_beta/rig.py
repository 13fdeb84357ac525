"""A pipeline around the realtime service, pointed at a scripted fake server, for the service tests."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np

from voxpipe.frames.frames import Frame
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor
from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService
from voxpipe.testing import FakeRealtimeServer

KEY = "sk-test-secret-key-0123456789abcdef"


class Recorder(FrameProcessor):
    """Records frames going one way (both ways by default), passes everything on."""

    def __init__(self, watch: FrameDirection | None = None) -> None:
        super().__init__()
        self.watch = watch
        self.frames: list[Frame] = []
        self.changed = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if self.watch is None or direction is self.watch:
            self.frames.append(frame)
            self.changed.set()
        await self.push_frame(frame, direction)

    def of(self, kind: type) -> list[Any]:
        return [f for f in self.frames if isinstance(f, kind)]

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


class Rig:
    def __init__(
        self,
        server: FakeRealtimeServer,
        service: OpenAIRealtimeBetaLLMService,
        task: PipelineTask,
        up: Recorder,
        down: Recorder,
    ) -> None:
        self.server, self.service, self.task, self.up, self.down = server, service, task, up, down

    async def wait_received(self, type: str, count: int = 1, timeout: float = 5.0) -> list[Any]:
        async with asyncio.timeout(timeout):
            while len(self.server.received(type)) < count:
                await asyncio.sleep(0.005)
        return self.server.received(type)


@asynccontextmanager
async def rig(
    script: Iterable[Any],
    *,
    service_kwargs: dict[str, Any] | None = None,
    extra: Iterable[FrameProcessor] = (),
    params: PipelineParams | None = None,
    ignore: Iterable[str] = ("input_audio_buffer.append",),
    end: bool = True,
):
    """Start a fake server, a pipeline ``[up, service, *extra, down]`` and run it; end it on exit."""
    async with FakeRealtimeServer(script, auto_session_updated=True, ignore=ignore) as server:
        service = OpenAIRealtimeBetaLLMService(api_key=KEY, base_url=server.url, **(service_kwargs or {}))
        up, down = Recorder(FrameDirection.UPSTREAM), Recorder(FrameDirection.DOWNSTREAM)
        task = PipelineTask(Pipeline([up, service, *extra, down]), params=params or PipelineParams())
        runner = asyncio.create_task(task.run())
        try:
            yield Rig(server, service, task, up, down)
            await server.assert_done()
        finally:
            if end and not task.has_finished():
                await task.stop_when_done()
                try:
                    await asyncio.wait_for(asyncio.shield(runner), timeout=5)
                except TimeoutError:
                    await task.cancel()
            await runner


def pcm_tone(ms: int, rate: int, channels: int = 1, freq: float = 300.0) -> bytes:
    t = np.arange(int(rate * ms / 1000)) / rate
    mono = (8000 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    return np.repeat(mono, channels).tobytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def audio_turn(
    item: str = "item_a1",
    response: str = "resp_1",
    chunks: int = 3,
    chunk_ms: int = 100,
    transcript: str = "Hello there.",
    usage: bool = True,
    fmt_rate: int = 24000,
) -> list[dict[str, Any]]:
    """Server events of one assistant audio answer."""
    audio = pcm_tone(chunk_ms, fmt_rate)
    events: list[dict[str, Any]] = [
        {
            "type": "response.created",
            "response": {
                "id": response,
                "object": "realtime.response",
                "status": "in_progress",
                "output": [],
            },
        },
        {
            "type": "response.output_item.added",
            "response_id": response,
            "output_index": 0,
            "item": {
                "id": item,
                "object": "realtime.item",
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            },
        },
    ]
    for i in range(chunks):
        events.append(
            {
                "type": "response.audio.delta",
                "response_id": response,
                "item_id": item,
                "output_index": 0,
                "content_index": 0,
                "delta": b64(audio),
            }
        )
        if i == 0:
            events.append(
                {
                    "type": "response.audio_transcript.delta",
                    "response_id": response,
                    "item_id": item,
                    "output_index": 0,
                    "content_index": 0,
                    "delta": transcript,
                }
            )
    events += [
        {
            "type": "response.audio.done",
            "response_id": response,
            "item_id": item,
            "output_index": 0,
            "content_index": 0,
        },
        {"type": "response.done", "response": response_done(response, item, transcript, usage)},
    ]
    return events


def response_done(
    response: str, item: str, transcript: str, usage: bool = True, status: str = "completed"
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": response,
        "object": "realtime.response",
        "status": status,
        "output": [
            {
                "id": item,
                "object": "realtime.item",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "audio", "transcript": transcript}],
            }
        ],
    }
    if usage:
        body["usage"] = {
            "total_tokens": 30,
            "input_tokens": 20,
            "output_tokens": 10,
            "input_token_details": {"cached_tokens": 4, "text_tokens": 5, "audio_tokens": 15},
            "output_token_details": {"text_tokens": 3, "audio_tokens": 7},
        }
    return body

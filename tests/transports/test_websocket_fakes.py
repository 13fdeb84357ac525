"""Fakes for the WebSocket transport tests (no tests here): a Twilio-like client and a scripted bot.

Named ``test_websocket_*`` to stay inside the transport tests' files; pytest finds nothing to run in it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voxpipe.audio import ulaw_decode
from voxpipe.frames.frames import (
    Frame,
    InputAudioRawFrame,
    OutputAudioRawFrame,
    PlaybackPositionFrame,
    StartInterruptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor
from voxpipe.serializers import InputDTMFFrame

SID = "MZ0123456789abcdef0123456789abcdef"


def tone(ms: int, rate: int, freq: float = 440.0) -> bytes:
    t = np.arange(int(rate * ms / 1000)) / rate
    return (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def ulaw_codes(n: int) -> bytes:
    """Real μ-law bit patterns, cycling through every code but the two zeros (0x7F, 0xFF)."""
    codes = [c for c in range(256) if c not in (0x7F, 0xFF)]
    return bytes(codes[i % len(codes)] for i in range(n))


class FakeTwilio:
    """A Twilio Media Streams client: sends ``connected``/``start``/``media`` and records what returns."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: ClientConnection | None = None
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.close_code: int | None = None
        self._reader: asyncio.Task[None] | None = None
        self.changed = asyncio.Event()

    async def __aenter__(self) -> FakeTwilio:
        self.ws = await connect(self.url, close_timeout=1)
        self._reader = asyncio.create_task(self._read(), name="fake-twilio.reader")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.ws is not None and self._reader is not None
        await self.ws.close()
        await self._reader

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for message in self.ws:
                self.received.append((time.monotonic(), json.loads(message)))
                self.changed.set()
        except ConnectionClosed:
            pass
        self.close_code = self.ws.close_code
        self.changed.set()

    async def send(self, body: dict[str, Any] | str | bytes) -> None:
        assert self.ws is not None
        await self.ws.send(body if isinstance(body, str | bytes) else json.dumps(body))

    async def start_call(self) -> None:
        await self.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.send(
            {
                "event": "start",
                "sequenceNumber": "1",
                "start": {
                    "streamSid": SID,
                    "callSid": "CA1",
                    "tracks": ["inbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    "customParameters": {},
                },
                "streamSid": SID,
            }
        )

    async def send_media(self, codes: bytes) -> None:
        payload = base64.b64encode(codes).decode()
        await self.send(
            {"event": "media", "streamSid": SID, "media": {"track": "inbound", "payload": payload}}
        )

    async def stream(self, codes: bytes, chunk: int = 160) -> None:
        """Send μ-law audio in 20 ms media messages at real-time pace, as Twilio does."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        for offset in range(0, len(codes), chunk):
            await self.send_media(codes[offset : offset + chunk])
            next_at += chunk / 8000
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def dtmf(self, digit: str) -> None:
        await self.send(
            {"event": "dtmf", "streamSid": SID, "dtmf": {"track": "inbound_track", "digit": digit}}
        )

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [body for _, body in self.received if body.get("event") == kind]

    def media(self) -> list[tuple[float, bytes]]:
        return [
            (at, base64.b64decode(body["media"]["payload"]))
            for at, body in self.received
            if body.get("event") == "media"
        ]

    def media_pcm(self) -> bytes:
        return b"".join(ulaw_decode(codes) for _, codes in self.media())

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


class Bot(FrameProcessor):
    """An echo-ish bot: echoes input audio (when ``echo``, else passes it on); keypad digits drive it.

    ``1`` plays a 24 kHz answer of ``answer_ms`` (TTSStarted, audio in 40 ms frames, TTSStopped); ``2``
    interrupts it (a StartInterruptionFrame downstream, as a service does on barge-in).
    """

    def __init__(self, *, echo: bool = False, answer_ms: int = 600) -> None:
        super().__init__()
        self.echo = echo
        self.answer_ms = answer_ms
        self.inputs: list[tuple[float, InputAudioRawFrame]] = []
        self.upstream: list[Frame] = []
        self.downstream: list[Frame] = []
        self.changed = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        (self.upstream if direction is FrameDirection.UPSTREAM else self.downstream).append(frame)
        self.changed.set()
        if isinstance(frame, InputAudioRawFrame):
            self.inputs.append((time.monotonic(), frame))
            if self.echo:
                await self.push_frame(OutputAudioRawFrame(audio=frame.audio, sample_rate=frame.sample_rate))
            else:
                await self.push_frame(frame, direction)
            return
        if isinstance(frame, InputDTMFFrame) and frame.digit == "1":
            pcm = tone(self.answer_ms, 24000)
            await self.push_frame(TTSStartedFrame())
            for offset in range(0, len(pcm), 1920):
                await self.push_frame(TTSAudioRawFrame(audio=pcm[offset : offset + 1920], sample_rate=24000))
            await self.push_frame(TTSStoppedFrame())
            return
        if isinstance(frame, InputDTMFFrame) and frame.digit == "2":
            await self.push_frame(StartInterruptionFrame())
            return
        await self.push_frame(frame, direction)

    def of(self, kind: type, direction: FrameDirection = FrameDirection.UPSTREAM) -> list[Any]:
        frames = self.upstream if direction is FrameDirection.UPSTREAM else self.downstream
        return [f for f in frames if isinstance(f, kind)]

    def positions(self) -> list[PlaybackPositionFrame]:
        return self.of(PlaybackPositionFrame)

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


async def assert_no_stray_tasks(timeout: float = 2.0) -> None:
    """Every task but the test's own has finished (a short grace for callbacks in flight)."""
    current = asyncio.current_task()
    deadline = time.monotonic() + timeout
    while True:
        others = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not others or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.01)
    assert not others, [t.get_name() for t in others]

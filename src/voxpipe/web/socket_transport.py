"""The WebSocket fallback of ``voxpipe web``: the page's audio over one WebSocket, where WebRTC is missing.

The page sends its microphone as binary messages of 16-bit mono PCM at 16 kHz and receives the bot's voice
as binary messages of 16-bit mono PCM at 24 kHz, paced by the playout engine (a little ahead, like a phone
line), plus the page-event JSON messages as text (``{"type": "audio.clear"}`` when the user interrupts: the
page drops the audio it had scheduled). Every outgoing message goes through one bounded queue and one writer
task, so audio and events never interleave mid-message and a page that stops reading stalls only its own bot.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from voxpipe.frames.audio import InputAudioRawFrame
from voxpipe.frames.control import EndTaskFrame, StartFrame
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor, ProcessorState
from voxpipe.transports import UserSpeechDetector
from voxpipe.transports.playout import AudioOutputTransport, AudioSink, PlayoutParams

__all__ = ["PAGE_IN_RATE", "PAGE_OUT_RATE", "PageSocket"]

logger = logging.getLogger(__name__)

PAGE_IN_RATE = 16000
"""Rate of the microphone audio the page sends."""
PAGE_OUT_RATE = 24000
"""Rate of the bot's audio sent to the page."""
_QUEUE_MESSAGES = 64
_MAX_AUDIO_MESSAGE = 64 * 1024


class PageSocket:
    """One page's WebSocket: an input and an output processor, and a writer for everything sent.

    Args:
        websocket: the accepted Starlette WebSocket.
        vad_analyzer: a voice-activity analyzer run on the page's audio (turns decided here).
    """

    def __init__(self, websocket: WebSocket, vad_analyzer: Any = None) -> None:
        self._websocket = websocket
        self._outgoing: asyncio.Queue[bytes | str] = asyncio.Queue(_QUEUE_MESSAGES)
        self.closed = asyncio.Event()
        self.dropped_events = 0
        self._input = _PageSocketInput(self, vad_analyzer, name="page-socket.input")
        self._output = _PageSocketOutput(self, name="page-socket.output")

    def input(self) -> FrameProcessor:
        """The page's microphone."""
        return self._input

    def output(self) -> FrameProcessor:
        """The page's speaker."""
        return self._output

    def send(self, message: dict[str, Any]) -> None:
        """Queue a page-event message (dropped, and counted, when the page is not reading)."""
        try:
            self._outgoing.put_nowait(json.dumps(message))
        except asyncio.QueueFull:
            self.dropped_events += 1

    async def send_audio(self, pcm: bytes) -> None:
        """Queue bot audio; waits while the queue is full (back-pressure on the playout engine)."""
        await self._outgoing.put(pcm)

    def clear_audio(self) -> None:
        """Tell the page to drop the audio it scheduled, and drop what was not sent yet."""
        kept = []
        while not self._outgoing.empty():
            item = self._outgoing.get_nowait()
            if isinstance(item, str):
                kept.append(item)
        for item in kept:
            self._outgoing.put_nowait(item)
        self.send({"type": "audio.clear"})

    async def run(self) -> None:
        """Write queued messages until the page goes away."""
        try:
            while True:
                item = await self._outgoing.get()
                if isinstance(item, bytes):
                    await self._websocket.send_bytes(item)
                else:
                    await self._websocket.send_text(item)
        except (WebSocketDisconnect, RuntimeError, OSError):
            logger.info("page socket: the page stopped reading")
        finally:
            self.closed.set()

    async def receive(self) -> Any:
        """The page's next message (an ASGI message dict)."""
        return await self._websocket.receive()


class _PageSocketInput(FrameProcessor):
    def __init__(self, socket: PageSocket, vad_analyzer: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._socket = socket
        self._speech = UserSpeechDetector(self, vad_analyzer) if vad_analyzer is not None else None

    async def start(self, frame: StartFrame) -> None:
        self.create_task(self._read(), name="read")

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        await self.push_frame(frame, direction)

    async def _read(self) -> None:
        while True:
            message = await self._socket.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes")
            if not data or len(data) > _MAX_AUDIO_MESSAGE or len(data) % 2:
                continue  # text messages and malformed audio are ignored
            if self.state is ProcessorState.STARTED:
                frame = InputAudioRawFrame(audio=data, sample_rate=PAGE_IN_RATE)
                if self._speech is not None:
                    await self._speech.feed(frame)
                await self.push_frame(frame)
        self._socket.closed.set()
        if self.state is ProcessorState.STARTED:
            await self.push_frame(EndTaskFrame(), FrameDirection.UPSTREAM)


class _SocketSink(AudioSink):
    def __init__(self, socket: PageSocket) -> None:
        self._socket = socket

    async def write(self, pcm: bytes) -> None:
        await self._socket.send_audio(pcm)

    async def clear(self) -> None:
        self._socket.clear_audio()


class _PageSocketOutput(AudioOutputTransport):
    def __init__(self, socket: PageSocket, **kwargs: Any) -> None:
        super().__init__(PlayoutParams(lead_ms=100), sample_rate=PAGE_OUT_RATE, **kwargs)
        self._socket = socket

    async def open_sink(self, sample_rate: int) -> AudioSink:
        return _SocketSink(self._socket)

    def listening(self) -> bool:
        return not self._socket.closed.is_set()

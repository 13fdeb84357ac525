"""Shared helpers of the server tests: SDK validation of every event, a raw client, speech to send.

Every server event a test receives passes through ``validate``: it must validate against the official
``openai`` SDK's server-event union of its shape (``TypeAdapter`` on the annotated union). Audio is spoken
with the test TTS's tone alphabet, which the test STT reads back exactly.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterable
from typing import Any

import websockets
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.realtime import RealtimeServerEvent as GAServerEvent
from pydantic import TypeAdapter

from voxpipe.audio import silence
from voxpipe.server import LocalRealtimeServer, ServerConfig
from voxpipe.server.engines.testing import encode_tones

from .._shared import WEATHER_TOOL  # noqa: F401  (re-exported: one tool for every test area)

BETA_ADAPTER: TypeAdapter[Any] = TypeAdapter(BetaServerEvent)
GA_ADAPTER: TypeAdapter[Any] = TypeAdapter(GAServerEvent)
SHAPES = ("beta", "ga")


def validate(shape: str, raw: str | bytes) -> dict[str, Any]:
    """Validate one server message against the SDK union of ``shape``; return it as a dict."""
    (GA_ADAPTER if shape == "ga" else BETA_ADAPTER).validate_json(raw)
    event: dict[str, Any] = json.loads(raw)
    return event


def names(shape: str) -> dict[str, str]:
    """Event names that differ between the shapes."""
    if shape == "ga":
        return {
            "text_delta": "response.output_text.delta",
            "text_done": "response.output_text.done",
            "audio_delta": "response.output_audio.delta",
            "audio_done": "response.output_audio.done",
            "transcript_delta": "response.output_audio_transcript.delta",
            "transcript_done": "response.output_audio_transcript.done",
            "item_created": "conversation.item.added",
        }
    return {
        "text_delta": "response.text.delta",
        "text_done": "response.text.done",
        "audio_delta": "response.audio.delta",
        "audio_done": "response.audio.done",
        "transcript_delta": "response.audio_transcript.delta",
        "transcript_done": "response.audio_transcript.done",
        "item_created": "conversation.item.created",
    }


def text_session(shape: str, **extra: Any) -> dict[str, Any]:
    """A ``session.update`` body: text output, no turn detection, plus ``extra``."""
    if shape == "ga":
        body: dict[str, Any] = {"type": "realtime", "output_modalities": ["text"]}
        body["audio"] = {"input": {"turn_detection": None}}
    else:
        body = {"modalities": ["text"], "turn_detection": None}
    body.update(extra)
    return body


def user_text(text: str) -> dict[str, Any]:
    """A ``conversation.item.create`` event with a user text message."""
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
    }


def speech(text: str, *, lead_ms: int = 500, tail_ms: int = 600) -> bytes:
    """PCM16 24 kHz: silence, the tones of ``text``, silence."""
    return silence(lead_ms, 24000) + encode_tones(text) + silence(tail_ms, 24000)


def chunks(audio: bytes, ms: int = 40) -> Iterable[str]:
    """Base64 chunks of ``ms`` milliseconds (PCM16 24 kHz)."""
    size = ms * 48
    for start in range(0, len(audio), size):
        yield base64.b64encode(audio[start : start + size]).decode("ascii")


class RawClient:
    """A plain ``websockets`` client that validates everything it receives."""

    def __init__(self, ws: websockets.ClientConnection, shape: str) -> None:
        self.ws = ws
        self.shape = shape
        self.received: list[dict[str, Any]] = []

    @classmethod
    async def connect(cls, url: str, shape: str, *, model: str = "gpt-realtime", **kwargs: Any) -> RawClient:
        headers = {"OpenAI-Beta": "realtime=v1"} if shape == "beta" else {}
        headers.update(kwargs.pop("headers", {}))
        ws = await websockets.connect(
            f"{url}?model={model}", additional_headers=headers, max_size=None, **kwargs
        )
        return cls(ws, shape)

    async def send(self, event: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(json.dumps(event) if isinstance(event, dict) else event)

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        event = validate(self.shape, raw)
        self.received.append(event)
        return event

    async def recv_until(self, event_type: str, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Events up to and including the first of ``event_type``."""
        events = []
        while True:
            event = await self.recv(timeout)
            events.append(event)
            if event["type"] == event_type:
                return events

    async def quiet(self, seconds: float = 0.2) -> list[dict[str, Any]]:
        """Whatever arrives within ``seconds`` (expected: nothing)."""
        events = []
        try:
            while True:
                events.append(await self.recv(seconds))
        except TimeoutError:
            return events

    async def aclose(self) -> None:
        await self.ws.close()


class ThreadedServer:
    """A ``LocalRealtimeServer`` on its own event loop in a thread, for sync tests (hypothesis)."""

    def __init__(self, config: ServerConfig) -> None:
        self._config = config
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="threaded realtime server", daemon=True)
        self.realtime_url = ""

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with LocalRealtimeServer(self._config) as server:
            self.realtime_url = server.realtime_url
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("threaded server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

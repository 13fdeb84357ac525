"""A whole voice turn through the server's session on the ``http`` engine set, every backend on loopback.

Spoken audio (the test TTS's tones) goes in; the energy VAD (``vad="test"``) finds the turn; the STT
backend is asked for the transcript; the LLM backend streams the answer; the TTS backend's PCM comes
back as audio deltas. Every event is validated against the openai SDK's union (``RawClient``).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from voxpipe.server import LocalRealtimeServer, ServerConfig

from .._support import RawClient, chunks, speech
from .test_http_support import multipart_fields, serve, sse, sse_chunk

ANSWER = ["It is ", "sunny in ", "Paris."]


class Backends:
    """STT, LLM and TTS endpoints on one loopback server, recording what they were sent."""

    def __init__(self) -> None:
        self.transcriptions = 0
        self.chats: list[dict[str, Any]] = []
        self.speech: list[dict[str, Any]] = []

    @property
    def routes(self) -> list[Route]:
        return [
            Route("/v1/audio/transcriptions", self._transcribe, methods=["POST"]),
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/audio/speech", self._speak, methods=["POST"]),
        ]

    async def _transcribe(self, request: Request) -> Response:
        await multipart_fields(request)
        self.transcriptions += 1
        return JSONResponse({"text": "What is the weather in Paris?"})

    async def _chat(self, request: Request) -> Response:
        self.chats.append(await request.json())

        async def events() -> AsyncIterator[bytes]:
            for piece in ANSWER:
                yield sse_chunk(piece)
            yield sse_chunk(finish_reason="stop")
            yield sse({"choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 6}})
            yield sse("[DONE]")

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _speak(self, request: Request) -> Response:
        self.speech.append(await request.json())
        t = np.arange(2400) / 24_000
        pcm = (np.sin(2 * np.pi * 300 * t) * 6000).astype("<i2").tobytes()
        return Response(pcm, media_type="application/octet-stream")


async def test_a_spoken_turn_goes_through_every_http_backend() -> None:
    backends = Backends()
    async with serve(backends.routes) as url:
        options = {f"{role}_base_url": url for role in ("llm", "stt", "tts")}
        options |= {"llm_model": "m", "tts_model": "tts-1", "vad": "test"}
        config = ServerConfig(port=0, engines="http", engine_options=options)
        async with LocalRealtimeServer(config) as server:
            client = await RawClient.connect(server.realtime_url, "beta")
            try:
                await client.recv_until("session.created")
                session = {
                    "modalities": ["text", "audio"],
                    "instructions": "Be brief.",
                    "input_audio_transcription": {"model": "whisper-1"},
                    "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
                }
                await client.send({"type": "session.update", "session": session})
                await client.recv_until("session.updated")
                for piece in chunks(speech("weather in paris")):
                    await client.send({"type": "input_audio_buffer.append", "audio": piece})
                events = await client.recv_until("response.done", timeout=15)
            finally:
                await client.aclose()
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)
    assert "input_audio_buffer.speech_started" in by_type
    assert by_type["response.done"][0]["response"]["status"] == "completed"
    transcripts = [e["delta"] for e in by_type.get("response.audio_transcript.delta", [])]
    assert "".join(transcripts) == "".join(ANSWER)
    audio = b"".join(base64.b64decode(e["delta"]) for e in by_type["response.audio.delta"])
    assert len(audio) >= 2 * 2400
    assert backends.transcriptions == 1
    assert backends.chats[0]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert backends.chats[0]["messages"][-1] == {"role": "user", "content": "What is the weather in Paris?"}
    assert backends.speech and all(body["response_format"] == "pcm" for body in backends.speech)

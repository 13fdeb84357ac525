"""The HTTP STT engine against a real transcriptions endpoint on loopback: the upload and the answers."""

from __future__ import annotations

import io
import wave
from typing import Any

import numpy as np
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from voxpipe.errors import VoxpipeStateError
from voxpipe.server.engines.base import Transcript, TranscriptionOptions, Usage
from voxpipe.server.engines.http import BackendProtocolError, BackendStatusError, HTTPSTTEngine

from .test_http_support import KEY, multipart_fields, serve


class TranscriptionBackend:
    """Records each upload and answers with ``answer`` (JSON, or plain text for a ``str``)."""

    def __init__(self, answer: Any = None, status: int = 200) -> None:
        self.answer = {"text": " Hello there. "} if answer is None else answer
        self.status = status
        self.uploads: list[dict[str, tuple[str | None, bytes]]] = []
        self.auth: list[str | None] = []

    @property
    def routes(self) -> list[Route]:
        return [Route("/v1/audio/transcriptions", self._endpoint, methods=["POST"])]

    async def _endpoint(self, request: Request) -> Response:
        self.uploads.append(await multipart_fields(request))
        self.auth.append(request.headers.get("authorization"))
        if isinstance(self.answer, str):
            return PlainTextResponse(self.answer, status_code=self.status)
        return JSONResponse(self.answer, status_code=self.status)


def tone(seconds: float, rate: int = 16_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()


def text_fields(upload: dict[str, tuple[str | None, bytes]]) -> dict[str, str]:
    return {name: data.decode() for name, (filename, data) in upload.items() if filename is None}


async def test_a_stream_buffers_and_uploads_one_wav_with_the_options_at_finish() -> None:
    backend = TranscriptionBackend()
    audio = tone(1.0)
    options = TranscriptionOptions(model="whisper-1", language="en", prompt="Voxpipe, Paris")
    async with (
        serve(backend.routes) as url,
        HTTPSTTEngine(url, "Systran/faster-whisper-small", api_key=KEY) as stt,
    ):
        stream = stt.create_stream(options)
        for start in range(0, len(audio), 640):
            stream.feed(audio[start : start + 640])
        assert backend.uploads == []  # nothing is sent before finish
        transcript = await stream.finish()
        with pytest.raises(VoxpipeStateError, match="after finish"):
            stream.feed(b"\0\0")
        await stream.aclose()
    assert transcript == Transcript(text="Hello there.", language="en", duration_s=1.0)
    (upload,) = backend.uploads
    assert text_fields(upload) == {
        "model": "Systran/faster-whisper-small",
        "language": "en",
        "prompt": "Voxpipe, Paris",
        "response_format": "json",
    }
    filename, wav_bytes = upload["file"]
    assert filename == "audio.wav"
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16_000)
        assert wav.readframes(wav.getnframes()) == audio
    assert backend.auth == [f"Bearer {KEY}"]


@pytest.mark.parametrize(
    ("configured", "asked", "sent"),
    [
        ("mine", "whisper-1", "mine"),
        (None, "gpt-4o-transcribe", "gpt-4o-transcribe"),
        (None, None, "whisper-1"),
    ],
)
async def test_the_model_sent_is_the_configured_one_else_the_clients(
    configured: str | None, asked: str | None, sent: str
) -> None:
    backend = TranscriptionBackend()
    async with serve(backend.routes) as url, HTTPSTTEngine(url, configured) as stt:
        await stt.transcribe(tone(0.1), TranscriptionOptions(model=asked))
    fields = text_fields(backend.uploads[0])
    assert fields["model"] == sent
    assert "language" not in fields
    assert "prompt" not in fields
    assert backend.auth == [None]  # no key, no header


async def test_token_usage_and_plain_text_answers_are_read() -> None:
    tokens = TranscriptionBackend(
        {"text": "Hi", "usage": {"type": "tokens", "input_tokens": 14, "output_tokens": 2}}
    )
    plain = TranscriptionBackend("Plain words\n")
    async with serve(tokens.routes) as url, HTTPSTTEngine(url, "m") as stt:
        with_usage = await stt.transcribe(tone(0.5), TranscriptionOptions())
    async with serve(plain.routes) as url, HTTPSTTEngine(url, "m") as stt:
        as_text = await stt.transcribe(tone(0.5), TranscriptionOptions(language="de"))
    assert with_usage.usage == Usage(14, 2)
    assert (as_text.text, as_text.language, as_text.usage) == ("Plain words", "de", None)


async def test_server_errors_and_odd_answers_are_backend_errors() -> None:
    failing = TranscriptionBackend({"error": {"message": "out of memory"}}, status=500)
    odd = TranscriptionBackend({"transcript": "wrong field"})
    async with serve(failing.routes) as url, HTTPSTTEngine(url, "m") as stt:
        with pytest.raises(BackendStatusError, match="out of memory") as info:
            await stt.transcribe(tone(0.1), TranscriptionOptions())
    assert info.value.retryable is True
    async with serve(odd.routes) as url, HTTPSTTEngine(url, "m") as stt:
        with pytest.raises(BackendProtocolError, match="'text'"):
            await stt.transcribe(tone(0.1), TranscriptionOptions())


def test_capabilities_say_it_buffers() -> None:
    stt = HTTPSTTEngine("http://127.0.0.1:9/v1", sample_rate=24_000)
    assert (stt.capabilities.sample_rate, stt.capabilities.partials) == (24_000, False)
    assert stt.create_stream(TranscriptionOptions()).sample_rate == 24_000

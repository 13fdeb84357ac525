"""The HTTP TTS engine against a real speech endpoint on loopback: PCM streamed as it arrives, WAV parsed."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines.base import PROTOCOL_VOICES
from voxpipe.server.engines.http import BackendProtocolError, BackendStatusError, HTTPTTSEngine
from voxpipe.server.engines.http._wav import WavFormatError, WavStreamReader

from .test_http_support import KEY, serve


def tone(seconds: float, rate: int, channels: int = 1) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2")
    return np.repeat(samples, channels).tobytes()


def streamed_wav_header(rate: int, channels: int = 1) -> bytes:
    """A WAV header as a streaming server writes it: sizes unknown (0xFFFFFFFF), an extra chunk first."""
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    return (
        b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE"
        + b"LIST" + struct.pack("<I", 5) + b"INFOx\0"  # odd size: padded to even
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", 0xFFFFFFFF)
    )  # fmt: skip


class SpeechBackend:
    """Streams ``pieces``; after the first it waits for ``go`` (so a test can see audio arrive early)."""

    def __init__(self, pieces: list[bytes], *, status: int = 200) -> None:
        self.pieces = pieces
        self.status = status
        self.bodies: list[dict[str, Any]] = []
        self.go = asyncio.Event()

    @property
    def routes(self) -> list[Route]:
        return [Route("/v1/audio/speech", self._endpoint, methods=["POST"])]

    async def _endpoint(self, request: Request) -> Response:
        self.bodies.append(await request.json())
        if self.status != 200:
            return Response(b'{"error": {"message": "no such voice"}}', status_code=self.status)
        return StreamingResponse(self._stream(), media_type="application/octet-stream")

    async def _stream(self) -> AsyncIterator[bytes]:
        for index, piece in enumerate(self.pieces):
            yield piece
            if index == 0:
                await asyncio.wait_for(self.go.wait(), 5)


async def test_pcm_is_streamed_as_it_arrives_in_whole_samples() -> None:
    audio = tone(0.5, 24_000)
    pieces = [audio[:1001], audio[1001:5000], audio[5000:]]  # an odd cut splits a sample
    backend = SpeechBackend(pieces)
    async with serve(backend.routes) as url, HTTPTTSEngine(url, "tts-1", api_key=KEY) as tts:
        stream = tts.stream("Hello there.", "coral", speed=1.25)
        first = await anext(stream)  # arrives while the server still holds the rest back
        backend.go.set()
        rest = [chunk async for chunk in stream]
    assert first == audio[:1000]
    assert all(len(chunk) % 2 == 0 for chunk in rest)
    assert first + b"".join(rest) == audio
    assert backend.bodies == [
        {"model": "tts-1", "input": "Hello there.", "voice": "coral", "response_format": "pcm", "speed": 1.25}
    ]
    assert tts.sample_rate == 24_000


async def test_voice_option_maps_every_protocol_voice_and_bad_input_is_refused() -> None:
    backend = SpeechBackend([b"\0\0"])
    backend.go.set()
    async with (
        serve(backend.routes) as url,
        HTTPTTSEngine(url, "kokoro", voice="af_bella", voices={"echo": "am_adam"}) as tts,
    ):
        assert set(tts.capabilities.voices) == set(PROTOCOL_VOICES)
        assert [c async for c in tts.stream("Hi", "alloy")] == [b"\0\0"]
        assert [c async for c in tts.stream("Hi", "echo")] == [b"\0\0"]
        assert [c async for c in tts.stream("   ", "alloy")] == []  # no request for blank text
        with pytest.raises(VoxpipeUsageError, match="unknown voice"):
            await anext(tts.stream("Hi", "darth"))
        with pytest.raises(VoxpipeUsageError, match="speed"):
            await anext(tts.stream("Hi", "alloy", speed=9.0))
    assert [body["voice"] for body in backend.bodies] == ["af_bella", "am_adam"]


async def test_a_streamed_wav_is_parsed_and_resampled_to_the_engine_rate() -> None:
    audio = tone(0.5, 16_000)
    body = streamed_wav_header(16_000) + audio
    pieces = [body[:7], body[7:61], body[61:2001], body[2001:]]  # header split, odd cuts
    backend = SpeechBackend(pieces)
    backend.go.set()
    async with serve(backend.routes) as url, HTTPTTSEngine(url, "tts-1", response_format="wav") as tts:
        out = b"".join([chunk async for chunk in tts.stream("Hello.", "alloy")])
    assert backend.bodies[0]["response_format"] == "wav"
    assert abs(len(out) // 2 - 12_000) <= 48  # 0.5 s at 24 kHz
    samples = np.frombuffer(out, dtype="<i2")
    assert 7000 < np.abs(samples).max() < 8500


async def test_a_body_that_is_not_a_wav_is_a_protocol_error() -> None:
    backend = SpeechBackend([b"<html>nope</html>"])
    backend.go.set()
    async with serve(backend.routes) as url, HTTPTTSEngine(url, "tts-1", response_format="wav") as tts:
        with pytest.raises(BackendProtocolError, match="RIFF"):
            _ = [chunk async for chunk in tts.stream("Hello.", "alloy")]


async def test_an_error_status_is_a_backend_error() -> None:
    backend = SpeechBackend([], status=400)
    async with serve(backend.routes) as url, HTTPTTSEngine(url, "tts-1") as tts:
        with pytest.raises(BackendStatusError, match="no such voice") as info:
            _ = [chunk async for chunk in tts.stream("Hello.", "alloy")]
    assert (info.value.status, info.value.retryable) == (400, False)


def test_wav_reader_mixes_stereo_to_mono_and_refuses_float_wav() -> None:
    reader = WavStreamReader()
    stereo = np.array([[100, 300], [-50, -150]], dtype="<i2").tobytes()
    out = reader.feed(streamed_wav_header(8000, channels=2) + stereo[:3])
    out += reader.feed(stereo[3:])
    assert reader.sample_rate == 8000
    assert np.frombuffer(out, dtype="<i2").tolist() == [200, -100]
    float_fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)
    with pytest.raises(WavFormatError, match="16-bit"):
        WavStreamReader().feed(b"RIFF\0\0\0\0WAVEfmt " + struct.pack("<I", 16) + float_fmt)


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(VoxpipeUsageError, match="pcm"):
        HTTPTTSEngine("http://127.0.0.1:9/v1", "tts-1", response_format="mp3")  # type: ignore[arg-type]

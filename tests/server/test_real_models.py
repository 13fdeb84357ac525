"""End to end with the real local models: spoken fixtures in over a real WebSocket, speech out.

The local engine set (Silero VAD, Whisper tiny.en, Qwen2.5-Coder-0.5B, Piper) is loaded and warmed up once
for the module and shared by per-test servers (``LocalRealtimeServer`` leaves ready engines to their
owner). Audio is streamed in real time (40 ms chunks) with server VAD, as a microphone would. Checks are on
words (normalised keywords, the answer transcribed back with the same Whisper engine) and on event order,
never on timings (STYLE.md practice 17): the machine has 2 busy cores, so every wait is generous.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import pytest
import soxr

from voxpipe.server import LocalRealtimeServer, ServerConfig
from voxpipe.server.engines.types import TranscriptionOptions

from ._support import RawClient
from .engines._local_support import load_speech, normalise

_NEEDED = ("llama_cpp", "faster_whisper", "piper")
_MISSING = [name for name in _NEEDED if importlib.util.find_spec(name) is None]

pytestmark = [
    pytest.mark.models,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        bool(_MISSING),
        reason=f"needs the local models ({', '.join(_MISSING)} missing): pip install 'voxpipe[local]' "
        "and requirements/local-models-nodeps.txt",
    ),
]

RATE = 24_000
CHUNK = RATE * 40 // 1000 * 2  # 40 ms of PCM16
WAIT_S = 120.0  # per event, on a loaded 2-core machine
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a location.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string", "description": "a city name"}},
        "required": ["location"],
    },
}


@pytest.fixture(scope="module")
def engines() -> Iterator[Any]:
    """The default local engine set, loaded and warmed up once for this module."""
    from voxpipe.server.engines import load_engines

    loaded = load_engines("local")
    asyncio.run(loaded.warm_up())
    yield loaded
    asyncio.run(loaded.aclose())


@pytest.fixture
async def server(engines: Any) -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(ServerConfig(port=0, engines=engines)) as running:
        yield running


def fixture_audio(name: str) -> bytes:
    """A speech fixture as PCM16 24 kHz with 0.3 s of silence before and 1 s after."""
    samples = load_speech(name, RATE)
    pad = np.zeros(RATE, dtype="<i2")
    return np.concatenate([pad[: RATE * 3 // 10], samples.astype("<i2"), pad]).tobytes()


async def voice_session(server: LocalRealtimeServer, **extra: Any) -> RawClient:
    """A beta session with audio output, server VAD (500 ms silence) and input transcription."""
    client = await RawClient.connect(server.realtime_url, "beta")
    session = {
        "modalities": ["audio", "text"],
        "voice": "alloy",
        "input_audio_transcription": {"model": "whisper-1", "language": "en"},
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
        **extra,
    }
    await client.send({"type": "session.update", "session": session})
    await client.recv_until("session.updated", WAIT_S)
    return client


async def speak(client: RawClient, audio: bytes) -> None:
    """Send ``audio`` in 40 ms appends, each when a microphone would have delivered it."""
    started = time.monotonic()
    for index, start in enumerate(range(0, len(audio), CHUNK)):
        await asyncio.sleep(max(0.0, started + (index + 1) * 0.04 - time.monotonic()))
        chunk = base64.b64encode(audio[start : start + CHUNK]).decode("ascii")
        await client.send({"type": "input_audio_buffer.append", "audio": chunk})


async def talk(client: RawClient, audio: bytes) -> list[dict[str, Any]]:
    """Speak, then collect every event up to the ``response.done`` of the turn."""
    sender = asyncio.create_task(speak(client, audio), name="speak")
    try:
        events = await client.recv_until("response.done", WAIT_S)
    finally:
        await sender
    return events


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == kind]


def mostly_english(text: str) -> bool:
    """At least two words, and most characters ASCII letters (spaces and punctuation aside)."""
    letters = [c for c in text if not c.isspace() and c not in ".,;:!?'\"-"]
    ascii_letters = sum(c.isascii() and c.isalpha() for c in letters)
    return len(normalise(text).split()) >= 2 and ascii_letters >= 0.8 * max(len(letters), 1)


async def test_spoken_question_gets_a_spoken_english_answer(
    server: LocalRealtimeServer, engines: Any
) -> None:
    client = await voice_session(server)
    try:
        events = await talk(client, fixture_audio("en_espeak_capital_of_france_16k.wav"))
    finally:
        await client.aclose()
    kinds = [event["type"] for event in events]
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index("input_audio_buffer.speech_stopped")
    heard = of_type(events, "conversation.item.input_audio_transcription.completed")
    assert heard, "no input transcription"
    words = normalise(heard[0]["transcript"]).split()
    assert {"capital", "france"} <= set(words), heard[0]["transcript"]
    done = of_type(events, "response.done")[-1]
    assert done["response"]["status"] == "completed", done["response"].get("status_details")
    pcm24k = b"".join(base64.b64decode(event["delta"]) for event in of_type(events, "response.audio.delta"))
    assert len(pcm24k) > RATE, "less than half a second of answer audio"
    pcm16k = soxr.resample(np.frombuffer(pcm24k, dtype="<i2"), RATE, 16_000).astype("<i2").tobytes()
    spoken = await engines.stt.transcribe(pcm16k, TranscriptionOptions(language="en"))
    said = of_type(events, "response.audio_transcript.done")[-1]["transcript"]
    assert mostly_english(spoken.text), f"answer heard back as {spoken.text!r} (model said {said!r})"


async def test_weather_question_calls_get_weather_for_paris(server: LocalRealtimeServer) -> None:
    client = await voice_session(server, tools=[WEATHER], tool_choice="auto")
    try:
        events = await talk(client, fixture_audio("en_espeak_weather_paris_16k.wav"))
    finally:
        await client.aclose()
    calls = of_type(events, "response.function_call_arguments.done")
    heard = of_type(events, "conversation.item.input_audio_transcription.completed")
    assert calls, f"no function call; heard {[e['transcript'] for e in heard]}"
    assert calls[0]["name"] == "get_weather"
    assert "paris" in json.loads(calls[0]["arguments"])["location"].lower()
    assert of_type(events, "response.done")[-1]["response"]["status"] == "completed"


async def test_cancel_stops_a_long_spoken_answer(server: LocalRealtimeServer) -> None:
    client = await voice_session(server, turn_detection=None)
    try:
        request = "Tell me a long story about a cat who travels around the world, in at least ten sentences."
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": request}],
                },
            }
        )
        await client.send({"type": "response.create"})
        before = await client.recv_until("response.audio.delta", WAIT_S)
        assert not of_type(before, "response.done")
        await client.send({"type": "response.cancel"})
        events = await client.recv_until("response.done", WAIT_S)
        after = await client.quiet(1.0)
    finally:
        await client.aclose()
    done = events[-1]
    assert done["response"]["status"] == "cancelled", done["response"]
    assert done["response"]["status_details"]["reason"] == "client_cancelled"
    assert not of_type(after, "response.audio.delta"), [event["type"] for event in after]
    kinds = [event["type"] for event in events]
    assert "response.audio.done" in kinds and kinds.index("response.audio.done") < len(kinds) - 1

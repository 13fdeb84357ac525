"""The turn detector's pause events: ``PAUSED`` once a pause inside a turn reaches ``pause_ms`` (capped at
half the silence window; the end of a turn is such a pause too), ``RESUMED`` when speech follows it, nothing
without a ``pause_ms``. Energy VAD at 24 kHz, sample-exact timing; audio fed in 20 ms appends."""

from __future__ import annotations

import pytest

from voxpipe.audio import silence
from voxpipe.server.connection.settings import TurnDetectionSettings
from voxpipe.server.connection.turn_detection import TurnDetector, TurnEventType
from voxpipe.server.engines.testing import EnergyVADEngine, encode_tones


async def no_words() -> str | None:
    return None


async def no_judge(words: str) -> float | None:
    return None


async def events(audio: bytes, pause_ms: int | None, window_ms: int = 500) -> list[tuple[str, int]]:
    settings = TurnDetectionSettings(silence_duration_ms=window_ms)
    detector = TurnDetector(EnergyVADEngine(), settings, 0, words=no_words, judge=no_judge, pause_ms=pause_ms)
    seen: list[tuple[str, int]] = []
    step = 20 * 48
    for start in range(0, len(audio), step):
        clock = (start + step) // 48
        seen += [
            (e.type.value, e.audio_ms) for e in await detector.process(audio[start : start + step], clock)
        ]
    await detector.aclose()
    return seen


SPEECH = encode_tones("hello there")  # 330 ms of tones


async def test_a_pause_then_more_speech_is_paused_then_resumed_in_one_turn() -> None:
    audio = silence(200, 24000) + SPEECH + silence(240, 24000) + SPEECH + silence(700, 24000)
    seen = await events(audio, pause_ms=150)
    kinds = [kind for kind, _ in seen]
    assert kinds == ["speech_started", "paused", "resumed", "paused", "speech_stopped"]
    paused_at = seen[1][1]
    assert 200 + 330 + 150 <= paused_at < 200 + 330 + 150 + 20  # reported within one 20 ms append


async def test_pause_is_capped_at_half_the_window_and_short_gaps_are_not_pauses() -> None:
    audio = silence(200, 24000) + SPEECH + silence(120, 24000) + SPEECH + silence(700, 24000)
    only_the_end = ["speech_started", "paused", "speech_stopped"]  # the 120 ms gap is no pause
    assert [k for k, _ in await events(audio, pause_ms=150)] == only_the_end
    capped = [k for k, _ in await events(audio, pause_ms=150, window_ms=200)]  # pause 100 ms, gap 120
    assert capped[:3] == ["speech_started", "paused", "resumed"]


@pytest.mark.parametrize("pause_ms", [None])
async def test_no_pause_events_without_pause_ms(pause_ms: int | None) -> None:
    audio = silence(200, 24000) + SPEECH + silence(240, 24000) + SPEECH + silence(700, 24000)
    assert TurnEventType.PAUSED.value not in [k for k, _ in await events(audio, pause_ms)]

"""The turn detector's pause events: ``PAUSED`` once a pause inside a turn reaches ``pause_ms`` (capped at
half the silence window; the end of a turn is such a pause too), ``RESUMED`` when speech follows it, nothing
without a ``pause_ms``. Energy VAD at 24 kHz, sample-exact timing; audio fed in 20 ms appends."""

from __future__ import annotations

import asyncio

import pytest

from voxpipe.audio import silence
from voxpipe.server.connection.settings import TurnDetectionKind, TurnDetectionSettings
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


async def semantic_events(
    audio: bytes, asked: list[int], stopped: list[int] | None = None
) -> list[tuple[str, int, int]]:
    """Semantic VAD (high) with pauses at 100 ms and a judge that always says "finished"; returns (event,
    its audio_ms, the clock when it came); ``asked`` gets the clock at each judgement. With ``stopped``, the
    first judgement never ends by itself (a slow model) and ``stopped`` gets the clock it was cancelled at.
    """
    clock = 0

    async def words() -> str | None:
        asked.append(clock)
        return "what time is it"

    async def finished(words: str) -> float | None:
        if stopped is not None and len(asked) == 1:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                stopped.append(clock)
                raise
        return 0.95

    settings = TurnDetectionSettings(kind=TurnDetectionKind.SEMANTIC_VAD, eagerness="high")
    detector = TurnDetector(EnergyVADEngine(), settings, 0, words=words, judge=finished, pause_ms=100)
    seen: list[tuple[str, int, int]] = []
    step = 20 * 48
    for start in range(0, len(audio), step):
        clock = (start + step) // 48
        decided = await detector.process(audio[start : start + step], clock)
        seen += [(e.type.value, e.audio_ms, clock) for e in decided]
        await asyncio.sleep(0)  # the judgement's task runs between appends
        await asyncio.sleep(0)
    await detector.aclose()
    return seen


async def test_semantic_vad_judges_at_the_pause_and_acts_from_the_first_look() -> None:
    asked: list[int] = []
    seen = await semantic_events(silence(200, 24000) + SPEECH + silence(700, 24000), asked)
    assert [kind for kind, _, _ in seen] == ["speech_started", "paused", "speech_stopped"]
    paused_at, stopped_at = seen[1][2], seen[2][2]
    assert len(asked) == 1 and paused_at <= asked[0] <= paused_at + 20  # judged at the pause
    # ... but its confident verdict ends the turn no sooner than the first look (200 ms of silence)
    assert paused_at + 100 <= stopped_at <= paused_at + 100 + 40


async def test_semantic_vad_drops_the_pause_judgement_when_speech_resumes_before_the_first_look() -> None:
    asked: list[int] = []
    audio = silence(200, 24000) + SPEECH + silence(150, 24000) + SPEECH + silence(700, 24000)
    seen = await semantic_events(audio, asked)
    kinds = [kind for kind, _, _ in seen]
    assert kinds == ["speech_started", "paused", "resumed", "paused", "speech_stopped"]
    assert len(asked) == 2  # the first pause was judged (finished!), yet the turn went on
    assert seen[-1][1] >= 200 + 330 + 150 + 330 - 20  # it ended after the second part


async def test_speech_resuming_cancels_the_pause_judgement_at_once() -> None:
    """The model is not left judging stale words while the user goes on (it is the LLM's time)."""
    asked: list[int] = []
    stopped: list[int] = []
    audio = silence(200, 24000) + SPEECH + silence(150, 24000) + SPEECH + silence(700, 24000)
    seen = await semantic_events(audio, asked, stopped)
    resumed_at = next(clock for kind, _, clock in seen if kind == "resumed")
    second_pause_at = [clock for kind, _, clock in seen if kind == "paused"][1]
    assert stopped == [resumed_at] and resumed_at < second_pause_at

"""Semantic VAD decides with the model: the LLM's probability that the words are finished sets the silence
that ends the turn, by eagerness (a confident end needs no full window); a model that cannot tell falls
back to punctuation; a failing one never stalls a turn. The scripted LLM's ``end_of_turn`` rule: 0.95 after
``.?!``, 0.0005 after a hanging word, else 0.05."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from voxpipe.audio import silence
from voxpipe.server import LocalRealtimeServer, ServerConfig
from voxpipe.server.connection.end_of_turn import (
    FIRST_LOOK_MS,
    LEVELS,
    hanging,
    silence_needed,
    sounds_finished,
)
from voxpipe.server.engines.base import LLMEngine
from voxpipe.server.engines.registry import Engines
from voxpipe.server.engines.testing import encode_tones, load_engines
from voxpipe.server.engines.types import LLMChunk, LLMRequest

from ._support import RawClient, chunks

pytestmark = pytest.mark.timeout(30)


class Judge(LLMEngine):
    """The scripted LLM with ``end_of_turn`` replaced: None (cannot tell) or a failure."""

    def __init__(self, inner: LLMEngine, fails: bool) -> None:
        self.capabilities = inner.capabilities
        self._inner = inner
        self._fails = fails
        self.asked: list[str] = []
        self.answer_next: list[bool] = []

    async def end_of_turn(self, request: LLMRequest, *, answer_next: bool = True) -> float | None:
        self.asked.append(str(request.messages[-1]))
        self.answer_next.append(answer_next)
        if self._fails:
            raise RuntimeError("the model broke")
        return None

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        async for chunk in self._inner.stream(request):
            yield chunk


async def silence_before_stop(server: LocalRealtimeServer, words: str, eagerness: str) -> int:
    """Milliseconds of silence the server let pass after ``words`` before ``speech_stopped``."""
    client = await RawClient.connect(server.realtime_url, "beta")
    assert (await client.recv())["type"] == "session.created"
    await client.send(
        {
            "type": "session.update",
            "session": {
                "turn_detection": {"type": "semantic_vad", "eagerness": eagerness, "create_response": False}
            },
        }
    )
    await client.recv_until("session.updated")
    speech_end = 300 + 30 * len(words)
    sent = 0
    try:
        for chunk in chunks(silence(300, 24000) + encode_tones(words) + silence(4000, 24000), 20):
            await client.send({"type": "input_audio_buffer.append", "audio": chunk})
            sent += 20
            # a marker: its error comes after whatever this append caused (events leave in order)
            await client.send({"type": "conversation.item.retrieve", "item_id": "none"})
            for event in await client.recv_until("error"):
                if event["type"] == "input_audio_buffer.speech_stopped":
                    assert event["audio_end_ms"] == speech_end
                    return sent - speech_end
        raise AssertionError("no speech_stopped")
    finally:
        await client.aclose()


async def test_the_model_ends_a_question_without_punctuation_by_eagerness(
    server: LocalRealtimeServer,
) -> None:
    # "what time is it" has no question mark: punctuation alone would hold it open at every eagerness;
    # p 0.05 is a likely end at the window, and for high (whose 250 ms window a mid-sentence pause
    # outlasts) a possible one, at twice its window
    assert 500 <= await silence_before_stop(server, "what time is it", "high") < 650  # p 0.05 >= 0.01
    assert 1000 <= await silence_before_stop(server, "what time is it", "low") < 1150  # p 0.05 >= 0.01
    assert 500 <= await silence_before_stop(server, "what time is it", "medium") < 650
    assert 500 <= await silence_before_stop(server, "what time is it", "auto") < 650
    assert 1500 <= await silence_before_stop(server, "what is the", "medium") < 1650  # hanging: held


@pytest.mark.parametrize("eagerness", ["auto", "medium", "high"])
async def test_a_confident_judgement_ends_the_turn_before_the_window(
    server: LocalRealtimeServer, eagerness: str
) -> None:
    # p 0.95 >= confident: the words are judged after FIRST_LOOK_MS (200 ms) and the turn ends there,
    # not at the eagerness's window (500 ms for auto and medium)
    assert 200 <= await silence_before_stop(server, "is it done?", eagerness) < 300


async def test_low_eagerness_waits_for_its_window_unless_the_end_is_near_certain(
    server: LocalRealtimeServer,
) -> None:
    assert 200 <= await silence_before_stop(server, "all done.", "low") < 300  # p 0.95 >= 0.9
    assert 3000 <= await silence_before_stop(server, "and then", "low") < 3200  # hanging: p 0.0005


@pytest.mark.parametrize("fails", [False, True])
async def test_a_model_that_cannot_tell_or_fails_never_stalls_a_turn(fails: bool) -> None:
    base = load_engines()
    judge = Judge(base.llm, fails)
    engines = Engines(vad=base.vad, stt=base.stt, llm=judge, tts=base.tts)
    async with engines, LocalRealtimeServer(ServerConfig(port=0, engines=engines)) as server:
        finished = await silence_before_stop(server, "all done.", "high")
        unfinished = await silence_before_stop(server, "and then", "high")
    assert 250 <= finished < 400
    if fails:
        assert 250 <= unfinished < 400  # a broken model: the pause decides, at once
    else:
        assert 750 <= unfinished < 900  # no model verdict: punctuation holds the unfinished words
    assert len(judge.asked) == 2
    assert judge.answer_next == [False, False]  # create_response off: no answer's prompt to read ahead


def test_punctuation_fallback() -> None:
    assert sounds_finished("All done.") and sounds_finished('He said "yes?"') and sounds_finished(None)
    assert sounds_finished("  ") and not sounds_finished("and then")


WINDOWS = {"high": 250, "medium": 500, "auto": 500, "low": 1000}


@pytest.mark.parametrize("eagerness", ["high", "medium", "auto", "low"])
def test_the_likelier_the_end_the_shorter_the_silence(eagerness: str) -> None:
    window = WINDOWS[eagerness]
    needed = [
        silence_needed("please call my brother", p, eagerness, window)
        for p in (0.0, 1e-4, 0.001, 0.005, 0.02, 0.1, 0.3, 0.5, 0.95, 1.0)
    ]
    assert needed == sorted(needed, reverse=True)  # never longer for a likelier end
    assert needed[0] == 3 * window and needed[-1] == FIRST_LOOK_MS  # the longest wait .. the first look
    assert set(needed) <= {FIRST_LOOK_MS, window, 2 * window, 3 * window}
    levels = LEVELS[eagerness]
    assert silence_needed("stop", levels.confident, eagerness, window) == FIRST_LOOK_MS
    assert silence_needed("stop", levels.possible, eagerness, window) <= 2 * window
    assert silence_needed("stop", levels.possible * 0.9, eagerness, window) == 3 * window


def test_a_hanging_last_word_holds_the_turn_whatever_the_model_says() -> None:
    # Whisper closes "and the" with a full stop at times; the model's word never shortens the wait there
    for words in ("I went out and.", "What is the", "so, um", "Is that your", "It is bigger than"):
        assert hanging(words), words
        assert silence_needed(words, 0.99, "high", 250) == 750
    # ... and it never lengthens one: a preposition can end a question, "so" a sentence
    for words in ("Where are you from?", "I think so.", "Call her", "Front left"):
        assert not hanging(words), words
        assert silence_needed(words, 0.99, "high", 250) == FIRST_LOOK_MS


def test_no_words_or_no_model_verdict_fall_back_to_the_window_and_punctuation() -> None:
    assert silence_needed(None, None, "auto", 500) == 500 and silence_needed("  ", 0.0, "auto", 500) == 500
    assert silence_needed("all done.", None, "auto", 500) == 500
    assert silence_needed("and then", None, "auto", 500) == 1500

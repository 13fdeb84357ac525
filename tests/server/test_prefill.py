"""Reading ahead (``connection/prefill.py``): while the user speaks, the LLM reads the words heard so far;
it never shows, never costs usage, gives the LLM up to any other call, and a failure of it changes nothing.

Speech is the test TTS's tone alphabet (30 ms a character); the test STT's partial transcript decodes
what was fed so far, and the scripted LLM records what it was asked to read (``prefilled``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from voxpipe.audio import silence
from voxpipe.server import LocalRealtimeServer, ServerConfig, SpeculationSettings
from voxpipe.server.connection.prefill import Prefiller
from voxpipe.server.connection.response_source import EngineSource
from voxpipe.server.connection.settings import SessionSettings
from voxpipe.server.engines.base import EngineError, LLMEngine
from voxpipe.server.engines.registry import Engines
from voxpipe.server.engines.testing import encode_tones, load_engines
from voxpipe.server.engines.testing.llm import ScriptedLLMEngine
from voxpipe.server.engines.types import LLMChunk, LLMMessage, LLMRequest, TextDelta
from voxpipe.server.scheduling import FairShare, Priority

from ._support import RawClient, chunks

pytestmark = pytest.mark.timeout(20)

QUESTION = "what is the capital of france?"
VAD_500 = {
    "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
    "input_audio_transcription": {"model": "whisper-1"},
}


async def open_session(server: LocalRealtimeServer) -> RawClient:
    client = await RawClient.connect(server.realtime_url, "beta")
    assert (await client.recv())["type"] == "session.created"
    await client.send({"type": "session.update", "session": VAD_500})
    await client.recv_until("session.updated")
    return client


async def speak(client: RawClient) -> None:
    """Say ``QUESTION`` in one go, at a few times real time (a microphone's appends come spaced out)."""
    for chunk in chunks(silence(300, 24000) + encode_tones(QUESTION) + silence(800, 24000)):
        await client.send({"type": "input_audio_buffer.append", "audio": chunk})
        await asyncio.sleep(0.01)


async def turn_events(engines: Engines, prefill_every_ms: int | None) -> list[dict[str, Any]]:
    """Serve ``engines``, say ``QUESTION`` and return the events up to ``response.done``."""
    speculation = SpeculationSettings(prefill_every_ms=prefill_every_ms)
    async with (
        engines,
        LocalRealtimeServer(ServerConfig(port=0, engines=engines, speculation=speculation)) as s,
    ):
        client = await open_session(s)
        await speak(client)
        events = await client.recv_until("response.done")
        await client.aclose()
    return events


async def one_turn(prefill_every_ms: int | None) -> tuple[list[dict[str, Any]], list[str]]:
    """One turn with the test engines; also what the LLM was asked to read ahead."""
    engines = load_engines()
    events = await turn_events(engines, prefill_every_ms)
    assert isinstance(engines.llm, ScriptedLLMEngine)
    return events, engines.llm.prefilled


_GENERATED = {"event_id", "item_id", "id", "response_id", "previous_item_id", "call_id", "conversation_id"}


def without_ids(event: dict[str, Any]) -> Any:
    """The event with every generated id, time and usage-free detail that differs between runs left out."""
    if isinstance(event, dict):
        return {key: without_ids(value) for key, value in event.items() if key not in _GENERATED}
    if isinstance(event, list):
        return [without_ids(value) for value in event]
    return event


async def test_the_words_are_read_while_the_user_speaks_and_nothing_shows() -> None:
    events, prefilled = await one_turn(250)
    plain_events, plain_prefilled = await one_turn(None)
    assert plain_prefilled == []
    # read ahead: several growing partials, all heard before the end of the turn
    assert len(prefilled) >= 2
    words = QUESTION.rstrip("?")
    assert all(words.startswith(text) for text in prefilled), prefilled
    assert [len(text) for text in prefilled] == sorted({len(text) for text in prefilled})
    # the client sees exactly what it sees without reading ahead: same events, same answer, same usage
    assert [without_ids(e) for e in events] == [without_ids(e) for e in plain_events]
    transcript = next(e for e in events if e["type"] == "response.audio_transcript.done")["transcript"]
    assert transcript == f"You said: {QUESTION}"


class StepLLM(ScriptedLLMEngine):
    """A scripted LLM whose ``prefill`` takes one step each time the test says so; or always fails."""

    def __init__(self, *, fail: bool = False) -> None:
        super().__init__()
        self.steps = 0
        self.step = asyncio.Semaphore(0)
        self.fail = fail

    async def prefill(self, request: LLMRequest) -> AsyncIterator[int]:
        if self.fail:
            raise EngineError("the model broke while reading ahead", code="engine_error", recoverable=True)
        for index in range(1, 100):
            await self.step.acquire()
            self.steps += 1
            yield index


def engines_with(llm: LLMEngine) -> Engines:
    base = load_engines()
    return Engines(vad=base.vad, stt=base.stt, llm=llm, tts=base.tts, fair_share=FairShare())


def question(words: str) -> LLMRequest:
    return LLMRequest(instructions="Be brief.", messages=(LLMMessage("user", words),))


async def test_reading_ahead_gives_the_llm_up_to_any_call_that_waits() -> None:
    llm = StepLLM()
    engines = engines_with(llm)
    reading = asyncio.create_task(EngineSource(engines, engines.fair_share).prefill(question("what is")))
    llm.step.release()
    llm.step.release()
    while llm.steps < 2:
        await asyncio.sleep(0)
    answer = EngineSource(engines, engines.fair_share, speculative=True)  # even a guess goes first

    async def collect() -> list[LLMChunk]:
        return [chunk async for chunk in answer.llm_stream(question("what is the time?"))]

    answering = asyncio.create_task(collect())
    while not engines.fair_share.gate("llm").waiting:  # type: ignore[union-attr]
        await asyncio.sleep(0)
    llm.step.release()  # the step in progress ends; then the read sees the waiting call and stops
    await asyncio.wait_for(reading, 5)
    chunks_out = await asyncio.wait_for(answering, 5)
    assert llm.steps == 3
    assert "".join(c.text for c in chunks_out if isinstance(c, TextDelta)) == "You said: what is the time?"


async def test_a_read_waits_for_the_llm_and_only_the_newest_words_are_read() -> None:
    llm = ScriptedLLMEngine()
    engines = engines_with(llm)
    spawned: list[asyncio.Task[None]] = []
    prefiller = Prefiller(engines, lambda coro, name: spawned.append(asyncio.create_task(coro, name=name)))
    settings = SessionSettings("gpt-realtime", "Be brief.")
    gate = engines.fair_share.gate("llm")  # type: ignore[union-attr]
    async with gate.hold(lambda: Priority.HEAD):
        prefiller.update(settings, [], "what")
        await asyncio.sleep(0.01)  # its read has started and waits for the LLM
        prefiller.update(settings, [], "what is")
        prefiller.update(settings, [], "what is the")
        prefiller.update(settings, [], "what is the")  # the same words again: nothing new to read
        await asyncio.sleep(0.01)
        assert llm.prefilled == [] and prefiller.running  # the first read waits for the LLM
    await asyncio.gather(*spawned)
    assert llm.prefilled == ["what", "what is the"]  # the one in the queue, then only the newest
    assert len(spawned) == 1 and not prefiller.running


async def test_stopping_cancels_the_read_and_forgets_the_words() -> None:
    llm = StepLLM()
    engines = engines_with(llm)
    spawned: list[asyncio.Task[None]] = []
    prefiller = Prefiller(engines, lambda coro, name: spawned.append(asyncio.create_task(coro, name=name)))
    prefiller.update(SessionSettings("gpt-realtime", "Be brief."), [], "what is")
    llm.step.release()
    while llm.steps < 1:
        await asyncio.sleep(0)
    prefiller.stop()
    await asyncio.gather(*spawned)  # ends without raising into the session
    assert not prefiller.running and llm.steps == 1
    # a new turn may read the same words again
    prefiller.update(SessionSettings("gpt-realtime", "Be brief."), [], "what is")
    assert prefiller.running
    prefiller.stop()
    await asyncio.gather(*spawned)


async def test_a_failing_read_changes_nothing_for_the_session() -> None:
    events = await turn_events(engines_with(StepLLM(fail=True)), prefill_every_ms=60)
    assert not [e for e in events if e["type"] == "error"]
    assert events[-1]["response"]["status"] == "completed"
    transcript = next(e for e in events if e["type"] == "response.audio_transcript.done")["transcript"]
    assert transcript == f"You said: {QUESTION}"

"""Preemptive generation in the server: answers prepared during the pause, dropped without a trace when the
user goes on, tool calls held until the turn is confirmed, and an unchanged event order for the SDK.

The test engines are wrapped in a recording LLM that keeps every request and every chunk it yields, with
an event per finished stream, so a test can let a speculation finish before it sends the rest of a turn.
Speech is the test TTS's tone alphabet; a pause of whole 30 ms segments is silence the test STT skips.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from voxpipe.audio import silence
from voxpipe.server import LocalRealtimeServer, ServerConfig, SpeculationSettings
from voxpipe.server.connection.speculation import SPECULATION_STATS
from voxpipe.server.engines.base import LLMEngine
from voxpipe.server.engines.registry import Engines
from voxpipe.server.engines.testing import encode_tones, load_engines
from voxpipe.server.engines.types import LLMChunk, LLMMessage, LLMRequest, ToolCall, Usage

from ._support import WEATHER_TOOL, RawClient, chunks, names
from .test_sdk_conformance import sdk_session, types

pytestmark = pytest.mark.timeout(20)


class RecordingLLM(LLMEngine):
    """Passes requests to the scripted LLM and records them, their chunks and when each stream ended."""

    def __init__(self, inner: LLMEngine) -> None:
        self.capabilities = inner.capabilities
        self._inner = inner
        self.requests: list[LLMRequest] = []
        self.outputs: list[list[LLMChunk]] = []
        self.finished: list[asyncio.Event] = []

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        self.requests.append(request)
        output: list[LLMChunk] = []
        done = asyncio.Event()
        self.outputs.append(output)
        self.finished.append(done)
        try:
            async for chunk in self._inner.stream(request):
                output.append(chunk)
                yield chunk
        finally:
            done.set()

    def said(self, index: int) -> str:
        last = self.requests[index].messages[-1]
        assert isinstance(last, LLMMessage)
        return last.content

    def calls(self, index: int) -> list[ToolCall]:
        return [chunk for chunk in self.outputs[index] if isinstance(chunk, ToolCall)]


@pytest.fixture
async def recorded() -> AsyncIterator[tuple[LocalRealtimeServer, RecordingLLM]]:
    base = load_engines()
    llm = RecordingLLM(base.llm)
    engines = Engines(vad=base.vad, stt=base.stt, llm=llm, tts=base.tts)
    async with engines, LocalRealtimeServer(ServerConfig(port=0, engines=engines)) as server:
        yield server, llm


async def open_session(server: LocalRealtimeServer, session: dict[str, Any]) -> RawClient:
    client = await RawClient.connect(server.realtime_url, "beta")
    assert (await client.recv())["type"] == "session.created"
    await client.send({"type": "session.update", "session": session})
    await client.recv_until("session.updated")
    return client


async def say(client: RawClient, audio: bytes) -> None:
    for chunk in chunks(audio):
        await client.send({"type": "input_audio_buffer.append", "audio": chunk})


async def until_stream_done(llm: RecordingLLM, index: int) -> None:
    while len(llm.finished) <= index:
        await asyncio.sleep(0.005)
    await asyncio.wait_for(llm.finished[index].wait(), 5)


VAD_500 = {"turn_detection": {"type": "server_vad", "silence_duration_ms": 500}}
PAUSE = silence(240, 24000)  # 8 whole tone segments: past the 100 ms speculation pause, inside the window


async def test_resumed_utterance_discards_speculation_without_a_trace(
    recorded: tuple[LocalRealtimeServer, RecordingLLM],
) -> None:
    server, llm = recorded
    before = SPECULATION_STATS.as_dict()
    client = await open_session(server, {**VAD_500, "input_audio_transcription": {"model": "whisper-1"}})
    await say(client, silence(400, 24000) + encode_tones("what is") + PAUSE)
    await until_stream_done(llm, 0)  # the speculation answered "what is" in full, usage included
    assert llm.said(0) == "what is" and isinstance(llm.outputs[0][-1], Usage)
    held = await client.quiet(0.3)
    assert types(held) == ["input_audio_buffer.speech_started"]  # nothing of the speculation
    await say(client, encode_tones(" the time?") + silence(700, 24000))
    events = await client.recv_until("response.done")
    kinds = types(events)
    assert kinds.count("response.created") == 1
    assert kinds[:3] == [
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.created",
    ]
    transcript = next(e for e in events if e["type"] == "response.audio_transcript.done")["transcript"]
    assert transcript == "You said: what is the time?"
    assert all("what is." not in json.dumps(e) for e in events)  # the speculated answer never shows
    usage = events[-1]["response"]["usage"]
    final = llm.outputs[-1][-1]
    assert isinstance(final, Usage) and len(llm.requests) == 2
    text_tokens = usage["output_token_details"]["text_tokens"]
    assert (usage["input_tokens"], text_tokens) == (final.input_tokens, final.output_tokens)
    after = SPECULATION_STATS.as_dict()
    assert after["dropped"] - before["dropped"] >= 1
    assert after["wasted_llm_tokens"] - before["wasted_llm_tokens"] >= 4  # "You said: what is."
    assert types(await client.quiet(0.2)) == ["rate_limits.updated"]
    await client.aclose()


async def test_speculative_tool_call_is_held_until_the_turn_is_confirmed_and_runs_once(
    recorded: tuple[LocalRealtimeServer, RecordingLLM],
) -> None:
    server, llm = recorded
    before = SPECULATION_STATS.as_dict()
    client = await open_session(server, {**VAD_500, "tools": [WEATHER_TOOL]})
    await say(client, silence(400, 24000) + encode_tones("weather in paris") + silence(200, 24000))
    await until_stream_done(llm, 0)
    (speculative,) = llm.calls(0)
    held = await client.quiet(0.3)
    assert types(held) == ["input_audio_buffer.speech_started"]  # the call is held
    await say(client, silence(500, 24000))  # the silence window completes: the turn is confirmed
    events = await client.recv_until("response.done")
    calls = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert [(c["call_id"], c["name"], json.loads(c["arguments"])) for c in calls] == [
        (speculative.call_id, "get_weather", {"city": "Paris"})
    ]
    assert len(llm.requests) == 1  # reused: the model was asked once
    assert SPECULATION_STATS.reused - before["reused"] == 1
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": speculative.call_id, "output": "sunny"},
        }
    )
    await client.send({"type": "response.create"})
    answer = await client.recv_until("response.done")
    assert "response.function_call_arguments.done" not in types(answer)  # never run twice
    assert answer[-1]["response"]["output"][0]["content"][0]["transcript"] == "The result is sunny."
    await client.aclose()


async def test_speculative_tool_call_of_a_resumed_turn_never_reaches_the_client(
    recorded: tuple[LocalRealtimeServer, RecordingLLM],
) -> None:
    server, llm = recorded
    client = await open_session(server, {**VAD_500, "tools": [WEATHER_TOOL]})
    await say(client, silence(400, 24000) + encode_tones("weather in paris") + PAUSE)
    await until_stream_done(llm, 0)
    (dropped,) = llm.calls(0)
    await say(client, encode_tones(" or in rome") + silence(700, 24000))
    events = await client.recv_until("response.done")
    calls = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert len(llm.requests) == 2 and llm.said(1) == "weather in paris or in rome"
    (final,) = llm.calls(1)
    assert [c["call_id"] for c in calls] == [final.call_id] and final.call_id != dropped.call_id
    await client.aclose()


async def test_turn_detection_without_create_response_does_not_speculate_into_a_response(
    recorded: tuple[LocalRealtimeServer, RecordingLLM],
) -> None:
    server, llm = recorded
    session = {"turn_detection": {"type": "server_vad", "silence_duration_ms": 500, "create_response": False}}
    client = await open_session(server, session)
    await say(client, silence(400, 24000) + encode_tones("hello there") + silence(800, 24000))
    events = await client.recv_until("conversation.item.created")
    assert "response.created" not in types(events + await client.quiet(0.3))
    assert llm.requests == []
    await client.aclose()


@pytest.mark.parametrize("shape", ["beta", "ga"])
async def test_event_order_seen_by_the_sdk_is_the_same_with_and_without_speculation(shape: str) -> None:
    n = names(shape)
    audio = silence(500, 24000) + encode_tones("what is") + PAUSE + encode_tones(" the weather?")
    audio += silence(300, 24000) + silence(700, 24000)
    runs: list[list[str]] = []
    transcripts: list[str] = []
    for settings in (SpeculationSettings(), SpeculationSettings(pause_ms=None)):
        before = SPECULATION_STATS.as_dict()
        config = ServerConfig(port=0, engines="test", speculation=settings)
        async with LocalRealtimeServer(config) as server, sdk_session(server, shape) as s:
            vad = VAD_500["turn_detection"]
            if shape == "beta":
                await s.conn.session.update(session={"turn_detection": vad})
            else:
                body = {"type": "realtime", "audio": {"input": {"turn_detection": vad}}}
                await s.conn.session.update(session=body)  # type: ignore[arg-type]
            await s.until("session.updated")
            for chunk in chunks(audio):
                await s.conn.input_audio_buffer.append(audio=chunk)
            events = await s.until("response.done")
        runs.append([kind for kind in types(events) if kind != n["audio_delta"]])
        transcripts.append(next(e for e in events if e["type"] == n["transcript_done"])["transcript"])
        used = SPECULATION_STATS.as_dict()
        speculated = used["attempts"] - before["attempts"]
        assert speculated == (2 if settings.pause_ms else 0)  # the mid-sentence pause, then the end
    assert runs[0] == runs[1]
    assert transcripts == ["You said: what is the weather?"] * 2


class SlowJudgeLLM(RecordingLLM):
    """The recording LLM whose end-of-turn judgement takes 150 ms, with a log of what the model did when
    (``judge``: a judgement began, ``judged``: it ended, ``stream``: a generation began)."""

    def __init__(self, inner: LLMEngine) -> None:
        super().__init__(inner)
        self.log: list[str] = []

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        self.log.append("stream")
        async for chunk in super().stream(request):
            yield chunk

    async def end_of_turn(self, request: LLMRequest, *, answer_next: bool = True) -> float | None:
        self.log.append("judge" if answer_next else "judge alone")
        await asyncio.sleep(0.15)
        self.log.append("judged")
        return await self._inner.end_of_turn(request, answer_next=answer_next)


async def test_under_semantic_vad_the_speculation_waits_for_the_judgement_of_its_pause() -> None:
    """The judgement starts at the pause, with the speculation; the speculation's generation (a prompt
    evaluation nothing interrupts) starts only once the judgement is over, and the turn ends at once on
    its confident verdict, answered from the speculation."""
    base = load_engines()
    llm = SlowJudgeLLM(base.llm)
    engines = Engines(vad=base.vad, stt=base.stt, llm=llm, tts=base.tts)
    async with engines, LocalRealtimeServer(ServerConfig(port=0, engines=engines)) as server:
        semantic = {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}
        client = await open_session(server, semantic)
        await say(client, silence(400, 24000) + encode_tones("what time is it?") + silence(120, 24000))
        await until_stream_done(llm, 0)  # at the 100 ms pause: judged, then speculated
        assert llm.log == ["judge", "judged", "stream"]
        await say(client, silence(300, 24000))
        events = await client.recv_until("response.done")
        assert events[-1]["response"]["status"] == "completed"
        assert llm.log == ["judge", "judged", "stream"]  # the verdict of the pause ended the turn; reused
        await client.aclose()

"""The GA service against a scripted GA-shaped server: handshake, nested session, GA event names."""

from __future__ import annotations

import asyncio

from voxpipe.frames.frames import (
    LLMFullResponseEndFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineTask
from voxpipe.realtime.dialect import nest_session as to_ga_session
from voxpipe.services.llm_service import FunctionCallParams
from voxpipe.services.openai_realtime import OpenAIRealtimeLLMService, SessionProperties, TurnDetection
from voxpipe.testing import FakeRealtimeServer, expect, send

from ..openai_realtime_beta.rig import Recorder, b64, pcm_tone


def ga_turn() -> list[dict]:
    audio = b64(pcm_tone(100, 24000))
    base = {"response_id": "resp_1", "item_id": "item_1", "output_index": 0, "content_index": 0}
    return [
        {
            "type": "response.created",
            "response": {
                "id": "resp_1",
                "object": "realtime.response",
                "status": "in_progress",
                "output": [],
            },
        },
        {
            "type": "conversation.item.added",
            "previous_item_id": None,
            "item": {
                "id": "item_1",
                "object": "realtime.item",
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            },
        },
        {"type": "response.output_audio.delta", **base, "delta": audio},
        {"type": "response.output_audio_transcript.delta", **base, "delta": "Paris."},
        {"type": "response.output_audio.delta", **base, "delta": audio},
        {"type": "response.output_audio.done", **base},
        {"type": "response.output_audio_transcript.done", **base, "transcript": "Paris."},
        {
            "type": "response.done",
            "response": {
                "id": "resp_1",
                "object": "realtime.response",
                "status": "completed",
                "output": [],
                "usage": {"total_tokens": 3, "input_tokens": 1, "output_tokens": 2},
            },
        },
    ]


def test_flat_settings_become_a_nested_ga_session() -> None:
    props = SessionProperties(
        modalities=["audio", "text"],
        instructions="Hi",
        voice="alloy",
        input_audio_format="g711_ulaw",
        turn_detection=False,
        temperature=0.7,
        max_response_output_tokens=200,
    )
    wire = to_ga_session(props).to_dict()
    assert wire == {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": "Hi",
        "max_output_tokens": 200,
        "audio": {
            "input": {"format": {"type": "audio/pcmu"}, "turn_detection": None},
            "output": {"voice": "alloy"},
        },
    }
    assert to_ga_session(SessionProperties(modalities=["text"])).to_dict()["output_modalities"] == ["text"]


async def test_ga_turn_end_to_end() -> None:
    props = SessionProperties(instructions="Be brief.", voice="alloy", turn_detection=TurnDetection())
    transcript = {
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": "item_u",
        "content_index": 0,
        "transcript": "Capital of France?",
    }
    script = [
        expect(
            "session.update",
            session={
                "type": "realtime",
                "instructions": "Be brief.",
                "audio": {"output": {"voice": "alloy"}, "input": {"turn_detection": {"type": "server_vad"}}},
            },
        ),
        send(transcript),
        *map(send, ga_turn()),
    ]
    async with FakeRealtimeServer(script, shape="ga", auto_session_updated=True) as server:
        down = Recorder()
        service = OpenAIRealtimeLLMService(api_key="sk-ga", base_url=server.url, session_properties=props)
        task = PipelineTask(Pipeline([service, down]))
        runner = asyncio.create_task(task.run())
        await down.wait_for(lambda: bool(down.of(LLMFullResponseEndFrame)))
        await server.assert_done()
        await task.stop_when_done()
        await runner
    handshake = server.connections[0].handshake
    assert handshake.query["model"] == "gpt-realtime"
    assert "openai-beta" not in handshake.headers
    assert [f.text for f in down.of(TranscriptionFrame)] == ["Capital of France?"]
    assert [f.text for f in down.of(LLMTextFrame)] == ["Paris."]
    assert len(down.of(TTSAudioRawFrame)) == 2
    assert len(down.of(TTSStartedFrame)) == len(down.of(TTSStoppedFrame)) == 1


async def test_ga_function_call_round_trip() -> None:
    call = {
        "type": "response.function_call_arguments.done",
        "response_id": "r",
        "item_id": "i",
        "output_index": 0,
        "call_id": "call_9",
        "name": "get_weather",
        "arguments": '{"location": "Paris"}',
    }
    script = [
        expect("session.update"),
        send({"type": "response.created", "response": {"id": "r", "status": "in_progress", "output": []}}),
        send(call),
        send({"type": "response.done", "response": {"id": "r", "status": "completed", "output": []}}),
        expect("conversation.item.create", item={"type": "function_call_output", "call_id": "call_9"}),
        expect("response.create"),
    ]

    async def weather(params: FunctionCallParams) -> None:
        await params.result_callback({"sky": "clear"})

    async with FakeRealtimeServer(script, shape="ga", auto_session_updated=True) as server:
        service = OpenAIRealtimeLLMService(api_key="sk-ga", base_url=server.url)
        service.register_function("get_weather", weather)
        task = PipelineTask(Pipeline([service]))
        runner = asyncio.create_task(task.run())
        await server.assert_done()
        await task.stop_when_done()
        await runner

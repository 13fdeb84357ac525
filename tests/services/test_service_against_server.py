"""The realtime services against voxpipe's own server (test engines) on loopback: whole turns, no script.

The test engines make this exact: the test STT reads back speech made with the test TTS's tones, so the
user "says" a known sentence and the server hears exactly it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from voxpipe.audio import resample, silence
from voxpipe.frames.frames import (
    InputAudioRawFrame,
    LLMFullResponseEndFrame,
    LLMMessagesAppendFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
)
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineTask
from voxpipe.server import LocalRealtimeServer, ServerConfig
from voxpipe.server.engines.testing import encode_tones
from voxpipe.services.llm_service import FunctionCallParams
from voxpipe.services.openai_realtime import OpenAIRealtimeLLMService
from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService
from voxpipe.services.openai_realtime_beta.events import (
    InputAudioTranscription,
    SessionProperties,
    TurnDetection,
)

from .openai_realtime_beta.rig import Recorder

SERVICES = {"beta": OpenAIRealtimeBetaLLMService, "ga": OpenAIRealtimeLLMService}


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test")) as running:
        yield running


async def speak(task: PipelineTask, text: str, rate: int = 16000) -> None:
    """Say ``text`` as 20 ms microphone frames at ``rate``, then a second of silence, in real time."""
    pcm = silence(300, rate) + resample(encode_tones(text), 24000, rate) + silence(1000, rate)
    step = rate // 50 * 2
    for offset in range(0, len(pcm), step):
        await task.queue_frame(InputAudioRawFrame(audio=pcm[offset : offset + step], sample_rate=rate))
        await asyncio.sleep(0.02)


async def run_turn(service: OpenAIRealtimeBetaLLMService, action) -> Recorder:
    down = Recorder()
    task = PipelineTask(Pipeline([service, down]))
    runner = asyncio.create_task(task.run())
    try:
        await action(task, down)
        await down.wait_for(lambda: bool(down.of(LLMFullResponseEndFrame)), timeout=15)
    finally:
        await task.stop_when_done()
        await runner
    return down


@pytest.mark.parametrize("shape", ["beta", "ga"])
async def test_spoken_turn_with_server_vad(server: LocalRealtimeServer, shape: str) -> None:
    props = SessionProperties(
        input_audio_transcription=InputAudioTranscription(model="whisper-1"),
        turn_detection=TurnDetection(silence_duration_ms=400),
    )
    service = SERVICES[shape](api_key="local", base_url=server.realtime_url, session_properties=props)

    async def say(task: PipelineTask, down: Recorder) -> None:
        await speak(task, "hello voxpipe")

    down = await run_turn(service, say)
    assert [f.text for f in down.of(TranscriptionFrame)] == ["hello voxpipe"]
    assert "hello voxpipe" in "".join(f.text for f in down.of(LLMTextFrame)).lower()
    assert down.of(TTSAudioRawFrame) and {f.sample_rate for f in down.of(TTSAudioRawFrame)} == {24000}


@pytest.mark.parametrize("shape", ["beta", "ga"])
async def test_text_message_and_function_call(server: LocalRealtimeServer, shape: str) -> None:
    props = SessionProperties(
        modalities=["text"],
        turn_detection=False,
        tools=[
            {
                "type": "function",
                "name": "get_weather",
                "description": "Weather of a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            }
        ],
    )
    service = SERVICES[shape](api_key="local", base_url=server.realtime_url, session_properties=props)
    calls: list[dict] = []

    async def weather(params: FunctionCallParams) -> None:
        calls.append(params.arguments)
        await params.result_callback({"city": params.arguments.get("city"), "sky": "sunny"})

    service.register_function("get_weather", weather)

    async def ask(task: PipelineTask, down: Recorder) -> None:
        await task.queue_frame(
            LLMMessagesAppendFrame(messages=[{"role": "user", "content": "weather in Paris"}])
        )
        # the first response is the call; the answer after the result ends a second one
        await down.wait_for(lambda: len(down.of(LLMFullResponseEndFrame)) >= 2, timeout=15)

    down = await run_turn(service, ask)
    assert [c.get("city", "").lower() for c in calls] == ["paris"]
    answer = "".join(f.text for f in down.of(LLMTextFrame)).lower()
    assert "sunny" in answer
    assert not down.of(TTSAudioRawFrame)  # a text-only session


async def test_barge_in_on_the_real_server_truncates_what_was_played(
    server: LocalRealtimeServer, tmp_path
) -> None:
    from voxpipe.transports.file import WavFileOutputTransport

    props = SessionProperties(turn_detection=TurnDetection(silence_duration_ms=400))
    service = OpenAIRealtimeBetaLLMService(
        api_key="local", base_url=server.realtime_url, session_properties=props
    )
    sent: list[str] = []
    send = service._send

    def record(event: object) -> None:
        sent.append(getattr(event, "type", ""))
        send(event)

    service._send = record  # type: ignore[method-assign]
    down = Recorder()
    output = WavFileOutputTransport(tmp_path / "answer.wav")
    task = PipelineTask(Pipeline([service, down, output]))
    runner = asyncio.create_task(task.run())
    try:
        await speak(task, "tell me a long story")
        await down.wait_for(lambda: len(down.of(TTSAudioRawFrame)) > 10, timeout=15)
        await asyncio.sleep(0.3)
        await speak(task, "stop")  # the user talks over the answer
        await down.wait_for(lambda: len(down.of(LLMFullResponseEndFrame)) >= 2, timeout=15)
    finally:
        await task.stop_when_done()
        await runner
    assert (
        "conversation.item.truncate" in sent
    )  # the server cancelled; the client cut the item to what played
    assert "response.cancel" not in sent  # under server VAD the server cancels by itself
    assert output.total_played_ms < sum(f.duration_ms for f in down.of(TTSAudioRawFrame))

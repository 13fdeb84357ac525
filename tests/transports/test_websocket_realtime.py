"""A phone call end to end: fake Twilio → server transport → realtime service → scripted realtime server.

μ-law all the way (a ``g711_ulaw`` session): the bot greets the caller when the call connects (as in
``examples/twilio_bot.py``), the caller's audio reaches the realtime server, the answer's
codes reach the caller unchanged, and a barge-in clears Twilio's buffer and truncates the answer at the
position the transport reports.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from voxpipe.audio import ulaw_encode
from voxpipe.frames.frames import LLMMessagesAppendFrame, PlaybackPositionFrame
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.serializers import TwilioFrameSerializer
from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService
from voxpipe.services.openai_realtime_beta.events import SessionProperties
from voxpipe.testing import ANY, FakeRealtimeServer, expect, send, wait
from voxpipe.transports.websocket import WebsocketParams, WebsocketServerTransport

from .test_websocket_fakes import Bot, FakeTwilio, assert_no_stray_tasks, tone, ulaw_codes


def answer(item: str, codes: bytes, chunk: int = 800) -> list[dict[str, Any]]:
    """Server events of an answer whose audio deltas carry ``codes`` (μ-law), still in progress."""
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {"id": "r1", "status": "in_progress", "output": []}},
        {
            "type": "response.output_item.added",
            "response_id": "r1",
            "output_index": 0,
            "item": {
                "id": item,
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            },
        },
    ]
    for offset in range(0, len(codes), chunk):
        delta = base64.b64encode(codes[offset : offset + chunk]).decode()
        events.append(
            {
                "type": "response.audio.delta",
                "response_id": "r1",
                "item_id": item,
                "output_index": 0,
                "content_index": 0,
                "delta": delta,
            }
        )
    return events


async def test_a_phone_call_through_the_realtime_service_with_barge_in() -> None:
    codes = ulaw_encode(tone(2000, 8000))  # a 2 s answer, in 100 ms deltas
    script = [
        expect(
            "session.update", session={"input_audio_format": "g711_ulaw", "output_audio_format": "g711_ulaw"}
        ),
        expect("conversation.item.create"),  # the greeting asked for when the call connected
        expect("response.create"),
        *map(send, answer("item_bot", codes)),
        wait(0.5),
        send({"type": "input_audio_buffer.speech_started", "audio_start_ms": 900, "item_id": "item_u2"}),
        expect("conversation.item.truncate", item_id="item_bot", content_index=0, audio_end_ms=ANY),
    ]
    async with FakeRealtimeServer(
        script, auto_session_updated=True, ignore=("input_audio_buffer.append",)
    ) as server:
        transport = WebsocketServerTransport(WebsocketParams(serializer=TwilioFrameSerializer()), port=0)
        service = OpenAIRealtimeBetaLLMService(
            api_key="sk-test",
            base_url=server.url,
            session_properties=SessionProperties(
                input_audio_format="g711_ulaw", output_audio_format="g711_ulaw"
            ),
        )
        watch = Bot()  # records what comes back upstream to the service
        task = PipelineTask(
            Pipeline([transport.input(), watch, service, transport.output()]),
            params=PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000),
        )
        greeting = {"role": "user", "content": "The call has just started: greet me."}
        transport.add_event_handler(
            "on_client_connected",
            lambda t, ws: task.queue_frame(LLMMessagesAppendFrame(messages=[greeting], run_llm=True)),
        )
        runner = asyncio.create_task(task.run())
        port = await transport.wait_listening()
        async with FakeTwilio(f"ws://127.0.0.1:{port}") as twilio:
            await twilio.start_call()
            caller = asyncio.create_task(twilio.stream(ulaw_codes(160 * 50)))  # the caller talks on
            await asyncio.wait_for(server.assert_done(), timeout=10)
            await twilio.wait_for(lambda: bool(twilio.events("clear")))
            heard = twilio.media()
            await caller
        await asyncio.wait_for(runner, timeout=10)  # the caller hung up: the run ends
    (truncate,) = server.received("conversation.item.truncate")
    positions = [f for f in watch.upstream if isinstance(f, PlaybackPositionFrame)]
    assert len(positions) == 1 and positions[0].interrupted
    assert truncate["audio_end_ms"] == positions[0].position_ms
    assert 300 <= truncate["audio_end_ms"] <= 1500  # about the 0.5 s that played, not the 2 s received
    appended = b"".join(base64.b64decode(e["audio"]) for e in server.received("input_audio_buffer.append"))
    # The caller's codes, unchanged and in order (from when the service's session was up).
    assert len(appended) >= 800 and appended in ulaw_codes(160 * 50)
    played = b"".join(payload for _, payload in heard)
    assert played == codes[: len(played)]  # the server's μ-law codes reached the caller unchanged
    assert abs(len(played) / 8 - truncate["audio_end_ms"]) <= 60
    await assert_no_stray_tasks()

"""The realtime service's speech loop against a scripted server: connect, audio in, audio out, formats."""

from __future__ import annotations

import asyncio
import base64

import numpy as np
import pytest

from voxpipe.audio import ulaw_encode
from voxpipe.frames.frames import (
    Frame,
    InputAudioRawFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
    StartFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from voxpipe.metrics.metrics import LLMUsageMetricsData, ProcessingMetricsData, TTFBMetricsData
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor
from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService
from voxpipe.services.openai_realtime_beta.events import SessionProperties, TurnDetection
from voxpipe.testing import ANY, FakeRealtimeServer, expect, send, wait

from .rig import KEY, audio_turn, b64, pcm_tone, rig


async def test_connects_with_beta_headers_and_sends_the_session() -> None:
    props = SessionProperties(
        instructions="Be brief.", voice="alloy", turn_detection=TurnDetection(silence_duration_ms=500)
    )
    script = [
        expect(
            "session.update",
            session={
                "instructions": "Be brief.",
                "voice": "alloy",
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                },
            },
        )
    ]
    async with rig(script, service_kwargs={"session_properties": props, "model": "my-model"}) as r:
        await r.server.assert_done()
        handshake = r.server.connections[0].handshake
        assert handshake.query["model"] == "my-model"
        assert handshake.headers["openai-beta"] == "realtime=v1"
        assert handshake.headers["authorization"] == f"Bearer {KEY}"
        sent = r.server.received("session.update")[0]["session"]
        assert set(sent) == {"instructions", "voice", "turn_detection"}  # unset fields are not sent


@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (48000, 2), (24000, 1), (8000, 1)])
async def test_input_audio_is_resampled_and_batched(rate: int, channels: int) -> None:
    async with rig([expect("session.update")]) as r:
        await r.server.assert_done()
        for _ in range(50):  # 1 s in 20 ms frames
            await r.task.queue_frame(
                InputAudioRawFrame(
                    audio=pcm_tone(20, rate, channels), sample_rate=rate, num_channels=channels
                )
            )
        async with asyncio.timeout(5):
            while (
                sum(len(base64.b64decode(a["audio"])) for a in r.server.received("input_audio_buffer.append"))
                < 900 * 48
            ):
                await asyncio.sleep(0.01)
        appends = r.server.received("input_audio_buffer.append")
    sizes = [len(base64.b64decode(a["audio"])) for a in appends]
    # at least 100 ms of 24 kHz mono PCM16 per append (4800 bytes), plus at most one resampled frame
    assert all(4800 <= size <= 4800 + 2 * 1920 for size in sizes)
    total_ms = sum(sizes) / 48
    assert 900 <= total_ms <= 1000


async def test_paused_input_is_dropped_until_resumed() -> None:
    async with rig([expect("session.update")], service_kwargs={"start_audio_paused": True}) as r:
        await r.server.assert_done()
        for _ in range(20):
            await r.task.queue_frame(InputAudioRawFrame(audio=pcm_tone(20, 24000), sample_rate=24000))
        await asyncio.sleep(0.1)
        assert r.server.received("input_audio_buffer.append") == []
        r.service.set_audio_input_paused(False)
        for _ in range(10):
            await r.task.queue_frame(InputAudioRawFrame(audio=pcm_tone(20, 24000), sample_rate=24000))
        appends = await r.wait_received("input_audio_buffer.append", 2)
    assert (
        sum(len(base64.b64decode(a["audio"])) for a in appends) == 200 * 48
    )  # only what came after resuming


async def test_server_vad_audio_turn_becomes_frames_and_metrics() -> None:
    script = [
        expect("session.update"),
        send({"type": "input_audio_buffer.speech_started", "audio_start_ms": 100, "item_id": "item_u1"}),
        send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 900, "item_id": "item_u1"}),
        send({"type": "input_audio_buffer.committed", "item_id": "item_u1", "previous_item_id": None}),
        *map(send, audio_turn(chunks=3)),
    ]
    params = PipelineParams(enable_metrics=True, enable_usage_metrics=True)
    async with rig(script, params=params) as r:
        await r.down.wait_for(lambda: bool(r.down.of(LLMFullResponseEndFrame)))
        await r.down.wait_for(lambda: len(r.down.of(MetricsFrame)) >= 3)
    kinds = [type(f) for f in r.down.frames if not isinstance(f, MetricsFrame)]
    turn = [
        k
        for k in kinds
        if k
        in (
            UserStartedSpeakingFrame,
            UserStoppedSpeakingFrame,
            LLMFullResponseStartFrame,
            TTSStartedFrame,
            TTSStoppedFrame,
            LLMFullResponseEndFrame,
        )
    ]
    assert turn == [
        UserStartedSpeakingFrame,
        UserStoppedSpeakingFrame,
        LLMFullResponseStartFrame,
        TTSStartedFrame,
        TTSStoppedFrame,
        LLMFullResponseEndFrame,
    ]
    audio = r.down.of(TTSAudioRawFrame)
    assert len(audio) == 3 and {(a.sample_rate, a.num_channels) for a in audio} == {(24000, 1)}
    assert [t.text for t in r.down.of(LLMTextFrame)] == ["Hello there."]
    data = [d for m in r.down.of(MetricsFrame) for d in m.data]
    assert any(isinstance(d, TTFBMetricsData) for d in data)
    assert any(isinstance(d, ProcessingMetricsData) for d in data)
    usage = next(d.value for d in data if isinstance(d, LLMUsageMetricsData))
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (20, 10, 30)
    assert (usage.cache_read_input_tokens, usage.prompt_audio_tokens, usage.completion_audio_tokens) == (
        4,
        15,
        7,
    )
    # The user's speaking frames also go upstream, for a user context aggregator.
    assert r.up.of(UserStartedSpeakingFrame) and r.up.of(UserStoppedSpeakingFrame)


async def test_g711_session_decodes_output_and_encodes_input() -> None:
    props = SessionProperties(input_audio_format="g711_ulaw", output_audio_format="g711_ulaw")
    pcm8k = pcm_tone(100, 8000)
    script = [
        expect(
            "session.update", session={"input_audio_format": "g711_ulaw", "output_audio_format": "g711_ulaw"}
        ),
        send({"type": "response.created", "response": {"id": "r1", "status": "in_progress", "output": []}}),
        send(
            {
                "type": "response.audio.delta",
                "response_id": "r1",
                "item_id": "i1",
                "output_index": 0,
                "content_index": 0,
                "delta": b64(ulaw_encode(pcm8k)),
            }
        ),
        send({"type": "response.done", "response": {"id": "r1", "status": "completed", "output": []}}),
    ]
    async with rig(script, service_kwargs={"session_properties": props}) as r:
        await r.down.wait_for(lambda: bool(r.down.of(LLMFullResponseEndFrame)))
        for _ in range(10):
            await r.task.queue_frame(InputAudioRawFrame(audio=pcm_tone(20, 16000), sample_rate=16000))
        appends = await r.wait_received("input_audio_buffer.append", 1)
    (frame,) = r.down.of(TTSAudioRawFrame)
    assert frame.sample_rate == 8000
    assert len(frame.audio) == len(pcm8k)  # one byte per sample on the wire, two in the frame
    decoded, original = np.frombuffer(frame.audio, "<i2"), np.frombuffer(pcm8k, "<i2")
    assert np.max(np.abs(decoded.astype(int) - original)) < 0.05 * 8000  # μ-law keeps the waveform
    assert len(base64.b64decode(appends[0]["audio"])) >= 800  # 100 ms of 8 kHz μ-law


async def test_text_only_session_gives_text_frames_and_no_audio() -> None:
    props = SessionProperties(modalities=["text"])
    script = [
        expect("session.update", session={"modalities": ["text"]}),
        send({"type": "response.created", "response": {"id": "r1", "status": "in_progress", "output": []}}),
        *[
            send(
                {
                    "type": "response.text.delta",
                    "response_id": "r1",
                    "item_id": "i1",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": d,
                }
            )
            for d in ("Paris", " is the capital.")
        ],
        send(
            {
                "type": "response.text.done",
                "response_id": "r1",
                "item_id": "i1",
                "output_index": 0,
                "content_index": 0,
                "text": "Paris is the capital.",
            }
        ),
        send({"type": "response.done", "response": {"id": "r1", "status": "completed", "output": []}}),
    ]
    async with rig(script, service_kwargs={"session_properties": props}) as r:
        await r.down.wait_for(lambda: bool(r.down.of(LLMFullResponseEndFrame)))
    assert "".join(t.text for t in r.down.of(LLMTextFrame)) == "Paris is the capital."
    assert not r.down.of(TTSAudioRawFrame) and not r.down.of(TTSStartedFrame)


async def test_response_create_uses_the_session_modalities() -> None:
    props = SessionProperties(modalities=["text"], turn_detection=False)
    script = [
        expect("session.update", session={"turn_detection": None}),
        expect("input_audio_buffer.commit"),
        expect("response.create"),
    ]
    async with rig(script, service_kwargs={"session_properties": props}) as r:
        await r.task.queue_frame(UserStartedSpeakingFrame())
        await r.task.queue_frame(UserStoppedSpeakingFrame())
        await r.server.assert_done()
    (create,) = r.server.received("response.create")
    assert "response" not in create  # no hard-coded modalities: the session's apply


def test_any_is_exported() -> None:
    assert ANY is not None


class PacedMicrophone(FrameProcessor):
    """Pushes ``frames`` (24 kHz mono) from a task of its own, one per ``pace_s``, from the moment it starts:
    as the WebRTC input does, whose call can be up before the realtime session is."""

    def __init__(self, frames: list[bytes], pace_s: float) -> None:
        super().__init__()
        self._frames, self._pace_s = frames, pace_s
        self.done = asyncio.Event()

    async def start(self, frame: StartFrame) -> None:
        self.create_task(self._play(), name="play")

    async def _play(self) -> None:
        for pcm in self._frames:
            await self.push_frame(InputAudioRawFrame(audio=pcm, sample_rate=24000, num_channels=1))
            await asyncio.sleep(self._pace_s)
        self.done.set()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await self.push_frame(frame, direction)


async def test_audio_captured_while_the_session_connects_reaches_the_server() -> None:
    """The server greets 0.5 s late: the first half second of the microphone must not be dropped."""
    ramp = np.arange(24000, dtype="<i2")  # 1 s whose every sample is different: any loss or reorder shows
    frames = [ramp[i : i + 480].tobytes() for i in range(0, ramp.size, 480)]  # 20 ms frames
    script = [wait(0.5), send({"type": "session.created", "session": {}}), expect("session.update")]
    async with FakeRealtimeServer(
        script, greet=False, auto_session_updated=True, ignore=("input_audio_buffer.append",)
    ) as server:
        microphone = PacedMicrophone(frames, pace_s=0.02)
        service = OpenAIRealtimeBetaLLMService(api_key=KEY, base_url=server.url)
        task = PipelineTask(Pipeline([microphone, service]), params=PipelineParams())
        runner = asyncio.create_task(task.run())
        try:
            async with asyncio.timeout(10):
                await microphone.done.wait()
            appended = b""
            for _ in range(300):  # what was captured goes out within 3 s
                appended = b"".join(
                    base64.b64decode(a["audio"]) for a in server.received("input_audio_buffer.append")
                )
                if len(appended) >= ramp.nbytes:
                    break
                await asyncio.sleep(0.01)
            await server.assert_done()
        finally:
            await task.cancel()
            await runner
    heard = np.frombuffer(appended, "<i2")
    assert heard.size == ramp.size, f"the server got {heard.size / 24:.0f} ms of 1000, from {heard[:1]}"
    assert appended == ramp.tobytes()  # all of it, in order
    order = [event["type"] for event in server.received()]
    assert order.index("session.update") < order.index("input_audio_buffer.append")

"""The WebSocket server transport with the Twilio serializer, driven by a fake Twilio client on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from voxpipe.audio import ulaw_decode
from voxpipe.errors import ConnectionFailedError
from voxpipe.frames.frames import (
    BotSpeakingFrame,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndFrame,
)
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.processors.frame_processor import FrameDirection
from voxpipe.serializers import InputDTMFFrame, OutputMarkFrame, TwilioFrameSerializer
from voxpipe.transports.websocket import LinkState, WebsocketParams, WebsocketServerTransport

from .test_playout_contract import RecordingSink, record_sinks
from .test_websocket_fakes import Bot, FakeTwilio, assert_no_stray_tasks, ulaw_codes


class Call:
    def __init__(self, transport: WebsocketServerTransport, task: PipelineTask, url: str, bot: Bot) -> None:
        self.transport, self.task, self.url, self.bot = transport, task, url, bot
        self.events: list[tuple[str, Any]] = []

    async def wait_finished(self, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not self.task.has_finished():
                await asyncio.sleep(0.005)


@asynccontextmanager
async def serving(
    bot: Bot, *, sinks: list[RecordingSink] | None = None, **params: Any
) -> AsyncIterator[Call]:
    transport = WebsocketServerTransport(
        WebsocketParams(serializer=TwilioFrameSerializer(), **params), port=0, name="ws"
    )
    if sinks is not None:
        record_sinks(transport.output(), sinks)
    task = PipelineTask(
        Pipeline([transport.input(), bot, transport.output()]),
        params=PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000),
    )
    runner = asyncio.create_task(task.run())
    port = await transport.wait_listening()
    call = Call(transport, task, f"ws://127.0.0.1:{port}", bot)
    for name in ("on_client_connected", "on_client_disconnected"):
        transport.add_event_handler(name, lambda t, ws, name=name: call.events.append((name, t)))
    try:
        yield call
    finally:
        if not task.has_finished():
            await task.cancel()
        await asyncio.wait_for(runner, timeout=10)


async def test_inbound_media_arrives_as_8k_frames_and_echo_leaves_as_20ms_media() -> None:
    bot = Bot(echo=True)
    async with serving(bot) as call, FakeTwilio(call.url) as twilio:
        await twilio.start_call()
        codes = ulaw_codes(160 * 25)  # 500 ms
        await twilio.stream(codes)
        await bot.wait_for(lambda: len(bot.inputs) == 25)
        await twilio.wait_for(lambda: len(twilio.media()) >= 25)
        # Inbound: one 20 ms PCM16 frame per media message, decoded bit-exactly.
        frames = [f for _, f in bot.inputs]
        assert {(f.sample_rate, f.num_channels, f.num_frames) for f in frames} == {(8000, 1, 160)}
        assert b"".join(f.audio for f in frames) == ulaw_decode(codes)
        # Outbound: 20 ms μ-law media messages for the stream, carrying the echoed audio.
        media = twilio.media()
        assert all(len(payload) == 160 for _, payload in media)
        assert twilio.media_pcm() == ulaw_decode(codes)
        assert all(
            body["streamSid"] == twilio.events("media")[0]["streamSid"] for body in twilio.events("media")
        )
        assert [name for name, _ in call.events] == ["on_client_connected"]
        assert call.events[0][1] is call.transport
    await assert_no_stray_tasks()


async def test_an_answer_is_paced_in_real_time_and_framed_by_bot_speaking() -> None:
    bot = Bot(answer_ms=600)
    sinks: list[RecordingSink] = []
    async with serving(bot, sinks=sinks) as call, FakeTwilio(call.url) as twilio:
        await twilio.start_call()
        await twilio.dtmf("1")
        await bot.wait_for(lambda: bool(bot.of(BotStoppedSpeakingFrame)), timeout=5)
        await twilio.wait_for(lambda: len(twilio.media()) >= 30)
        media = twilio.media()
        assert len(media) == 30 and all(len(payload) == 160 for _, payload in media)
        # When each chunk was sent, on the sender's clock (a loaded machine only delays sends, whereas
        # the receiver may read a delayed batch at once): never ahead of the listener by more than the
        # 40 ms lead, so 29 chunk periods of 20 ms minus the lead, not a burst.
        sent_at = sinks[0].times
        assert len(sent_at) == 30
        assert sent_at[-1] - sent_at[0] >= 0.020 * 29 - 0.040 - 0.001
        for k, at in enumerate(sent_at):
            assert at - sent_at[0] >= 0.020 * k - 0.040 - 0.001, k
        assert len(bot.of(BotStartedSpeakingFrame)) == 1
        assert len(bot.of(BotSpeakingFrame)) >= 1
        assert call.transport.output().messages_sent == 30
    await assert_no_stray_tasks()


@pytest.mark.parametrize("lead_ms", [0, 40])
async def test_interruption_clears_reports_the_played_position_and_drops_the_rest(lead_ms: int) -> None:
    bot = Bot(answer_ms=3000)
    async with serving(bot, playout_lead_ms=lead_ms) as call, FakeTwilio(call.url) as twilio:
        await twilio.start_call()
        await twilio.dtmf("1")
        await twilio.wait_for(lambda: len(twilio.media()) >= 15)  # about 300 ms played
        await twilio.dtmf("2")
        await twilio.wait_for(lambda: bool(twilio.events("clear")))
        heard_before_clear = len(twilio.media())
        await asyncio.sleep(0.3)
        assert len(twilio.media()) == heard_before_clear  # nothing after the clear
        assert twilio.events("clear") == [
            {"event": "clear", "streamSid": twilio.events("media")[0]["streamSid"]}
        ]
        clear_index = next(i for i, (_, body) in enumerate(twilio.received) if body["event"] == "clear")
        assert all(body["event"] != "media" for _, body in twilio.received[clear_index + 1 :])
        positions = bot.positions()
        assert len(positions) == 1 and positions[0].interrupted
        sent_ms = 20 * heard_before_clear
        assert sent_ms - 20 - lead_ms - 20 <= positions[0].position_ms <= sent_ms  # the lead was not heard
        assert heard_before_clear < 100  # the 3 s answer was cut short
        assert bot.of(BotStoppedSpeakingFrame)
        assert call.transport.output().buffered_ms == 0
    await assert_no_stray_tasks()


async def test_marks_follow_the_audio_sent_before_them() -> None:
    bot = Bot(answer_ms=200)
    async with serving(bot) as call, FakeTwilio(call.url) as twilio:
        await twilio.start_call()
        await twilio.dtmf("1")
        await bot.wait_for(lambda: bool(bot.of(InputDTMFFrame, FrameDirection.DOWNSTREAM)))  # answer queued
        await call.task.queue_frame(OutputMarkFrame(mark="after-answer"))
        await twilio.wait_for(lambda: bool(twilio.events("mark")))
        kinds = [body["event"] for _, body in twilio.received]
        assert kinds.index("mark") == len(kinds) - 1 and kinds.count("media") == 10


@pytest.mark.parametrize(
    "junk",
    [
        "{not json",
        json.dumps({"event": "brand_new_event"}),
        json.dumps({"event": "media", "media": {"payload": "%%%"}}),
        json.dumps({"event": "media"}),
        b"\x00\x01binary",
        json.dumps(["a list"]),
    ],
)
async def test_malformed_messages_do_not_break_the_session(junk: str | bytes) -> None:
    bot = Bot()
    async with serving(bot) as call, FakeTwilio(call.url) as twilio:
        await twilio.start_call()
        await twilio.send(junk)
        await twilio.send_media(ulaw_codes(160))
        await twilio.dtmf("5")
        await bot.wait_for(lambda: bool(bot.of(InputDTMFFrame, FrameDirection.DOWNSTREAM)))
        assert len(bot.inputs) == 1
        known = "brand_new_event" in str(junk)
        assert call.transport.input().malformed_messages == (0 if known else 1)
        assert call.transport.link_state is LinkState.CONNECTED


async def test_client_disconnect_ends_the_pipeline_cleanly() -> None:
    bot = Bot(answer_ms=3000)
    async with serving(bot) as call:
        async with FakeTwilio(call.url) as twilio:
            await twilio.start_call()
            await twilio.dtmf("1")
            await twilio.wait_for(lambda: len(twilio.media()) >= 3)
        await call.wait_finished()
        assert [name for name, _ in call.events] == ["on_client_connected", "on_client_disconnected"]
        assert bot.of(EndFrame, FrameDirection.DOWNSTREAM)  # ended, not cancelled
    await assert_no_stray_tasks()


async def test_twilio_stop_ends_the_pipeline() -> None:
    bot = Bot()
    async with serving(bot) as call, FakeTwilio(call.url) as twilio:
        await twilio.start_call()
        await twilio.send({"event": "stop", "streamSid": "x", "stop": {"callSid": "CA1"}})
        await call.wait_finished()
        await twilio.wait_for(lambda: twilio.close_code is not None)
        assert twilio.close_code in (1000, 1001)
    await assert_no_stray_tasks()


async def test_end_frame_plays_the_rest_then_closes_the_connection() -> None:
    bot = Bot(answer_ms=400)
    async with serving(bot) as call, FakeTwilio(call.url) as twilio:
        await twilio.start_call()
        await twilio.dtmf("1")
        await twilio.wait_for(lambda: len(twilio.media()) >= 1)
        await call.task.stop_when_done()
        await twilio.wait_for(lambda: twilio.close_code is not None)
        assert twilio.close_code == 1000
        assert len(twilio.media()) == 20  # the whole answer was played before the close
    await assert_no_stray_tasks()


async def test_a_second_client_is_refused_while_one_is_connected() -> None:
    bot = Bot()
    async with serving(bot) as call, FakeTwilio(call.url) as twilio:
        await twilio.start_call()
        async with connect(call.url) as second:
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(second.recv(), timeout=5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1013
        assert call.transport.input().clients_refused == 1
        await twilio.send_media(ulaw_codes(160))
        await bot.wait_for(lambda: len(bot.inputs) == 1)


async def test_without_end_on_disconnect_the_next_client_is_served() -> None:
    bot = Bot(echo=True)
    async with serving(bot, end_on_disconnect=False) as call:
        for _ in range(2):
            async with FakeTwilio(call.url) as twilio:
                await twilio.start_call()
                await twilio.send_media(ulaw_codes(160))
                await twilio.wait_for(lambda twilio=twilio: len(twilio.media()) == 1)
            await bot.wait_for(lambda: call.transport.link_state is LinkState.IDLE)
        assert not call.task.has_finished()
        assert len(bot.inputs) == 2
    await assert_no_stray_tasks()


async def test_cancel_closes_the_client_and_leaves_no_task() -> None:
    bot = Bot(answer_ms=2000)
    async with serving(bot) as call, FakeTwilio(call.url) as twilio:
        await twilio.start_call()
        await twilio.dtmf("1")
        await twilio.wait_for(lambda: len(twilio.media()) >= 2)
        await call.task.cancel()
        await twilio.wait_for(lambda: twilio.close_code is not None)
        assert twilio.close_code == 1001
    await assert_no_stray_tasks()


async def test_a_taken_port_is_a_fatal_error() -> None:
    first = WebsocketServerTransport(WebsocketParams(serializer=TwilioFrameSerializer()), port=0)
    task1 = PipelineTask(Pipeline([first.input(), first.output()]))
    runner1 = asyncio.create_task(task1.run())
    port = await first.wait_listening()
    second = WebsocketServerTransport(WebsocketParams(serializer=TwilioFrameSerializer()), port=port)
    task2 = PipelineTask(Pipeline([second.input(), second.output()]))
    errors: list[Any] = []
    task2.add_event_handler("on_pipeline_error", lambda t, frame: errors.append(frame))
    await asyncio.wait_for(task2.run(), timeout=5)
    assert errors and errors[0].fatal
    with pytest.raises(ConnectionFailedError, match="could not listen"):
        await second.wait_listening(timeout=1)
    await task1.cancel()
    await runner1
    await assert_no_stray_tasks()


class _BuggySerializer(TwilioFrameSerializer):
    """Fails with a non-voxpipe exception on one message: a bug, not bad input."""

    def deserialize(self, data: str | bytes) -> Any:
        if data == "boom":
            raise ZeroDivisionError("a serializer bug")
        return super().deserialize(data)


async def test_a_serializer_bug_is_reported_and_the_session_goes_on() -> None:
    bot = Bot()
    transport = WebsocketServerTransport(WebsocketParams(serializer=_BuggySerializer()), port=0)
    task = PipelineTask(Pipeline([transport.input(), bot, transport.output()]))
    errors: list[Any] = []
    task.add_event_handler("on_pipeline_error", lambda t, frame: errors.append(frame))
    runner = asyncio.create_task(task.run())
    port = await transport.wait_listening()
    async with FakeTwilio(f"ws://127.0.0.1:{port}") as twilio:
        await twilio.start_call()
        await twilio.send("boom")
        await twilio.dtmf("7")
        await bot.wait_for(lambda: bool(bot.of(InputDTMFFrame, FrameDirection.DOWNSTREAM)))
    await asyncio.wait_for(runner, timeout=5)
    assert len(errors) == 1 and not errors[0].fatal and "ZeroDivisionError" in errors[0].error
    await assert_no_stray_tasks()


async def test_audio_without_a_client_is_dropped_and_the_run_ends_cleanly() -> None:
    bot = Bot(answer_ms=500)
    async with serving(bot) as call:
        await call.transport.input().push_frame(InputDTMFFrame(digit="1"))
        await asyncio.sleep(0.1)
        assert call.transport.output().buffered_ms == 0
        assert call.transport.output().messages_sent == 0
        await call.task.stop_when_done()
        await call.wait_finished()
    await assert_no_stray_tasks()


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("audio_out_chunk_ms", 15, "multiple of 10"),
        ("max_buffer_ms", 10, "at least one chunk"),
        ("close_timeout_s", 0, "close_timeout_s"),
        ("playout_lead_ms", -1, "playout_lead_ms"),
    ],
)
def test_params_are_checked(field: str, value: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        WebsocketParams(serializer=TwilioFrameSerializer(), **{field: value})

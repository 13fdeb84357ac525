"""Playout details of the WebSocket output: the bounded buffer, positions across answers, input rates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from voxpipe.audio import resample, ulaw_decode
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.serializers import TwilioFrameSerializer
from voxpipe.transports.websocket import WebsocketParams, WebsocketServerTransport

from .test_websocket_fakes import Bot, FakeTwilio, assert_no_stray_tasks, ulaw_codes


@asynccontextmanager
async def call(
    bot: Bot, *, serializer: TwilioFrameSerializer | None = None, in_rate: int = 8000, **params: Any
) -> AsyncIterator[tuple[WebsocketServerTransport, FakeTwilio]]:
    transport = WebsocketServerTransport(
        WebsocketParams(serializer=serializer or TwilioFrameSerializer(), **params), port=0
    )
    task = PipelineTask(
        Pipeline([transport.input(), bot, transport.output()]),
        params=PipelineParams(audio_in_sample_rate=in_rate),
    )
    runner = asyncio.create_task(task.run())
    port = await transport.wait_listening()
    try:
        async with FakeTwilio(f"ws://127.0.0.1:{port}") as twilio:
            await twilio.start_call()
            yield transport, twilio
    finally:
        await asyncio.wait_for(runner, timeout=10)  # the client left: the run ends by itself
    await assert_no_stray_tasks()


def media_before_clear(twilio: FakeTwilio, clear: int) -> int:
    """How many media messages the peer received before its ``clear``-th clear (0 is the first)."""
    media = clears = 0
    for _, body in twilio.received:
        if body.get("event") == "clear":
            if clears == clear:
                return media
            clears += 1
        elif body.get("event") == "media":
            media += 1
    raise AssertionError(f"no clear number {clear}")


async def test_the_playout_buffer_is_bounded_and_nothing_is_lost() -> None:
    bot = Bot(answer_ms=1500)
    async with call(bot, max_buffer_ms=200) as (transport, twilio):
        output = transport.output()
        await twilio.dtmf("1")
        most = 0
        async with asyncio.timeout(5):
            while len(twilio.media()) < 75:
                most = max(most, output.buffered_ms)
                await asyncio.sleep(0.005)
        # The bound, plus what one frame added when it crossed it: 40 ms at 24 kHz can leave the
        # resampler as a burst of up to about 80 ms at 8 kHz (see voxpipe.audio.resample).
        assert 0 < most <= 200 + 100
        assert all(len(payload) == 160 for _, payload in twilio.media())
        assert len(twilio.media_pcm()) == 2 * 8 * 1500


async def test_positions_count_from_the_start_of_each_answer() -> None:
    bot = Bot(answer_ms=2000)
    async with call(bot) as (_, twilio):
        await twilio.dtmf("2")  # an interruption with nothing playing
        await bot.wait_for(lambda: len(bot.positions()) == 1)
        assert bot.positions()[0].position_ms == 0
        for answer in (1, 2):
            before = len(twilio.media())
            await twilio.dtmf("1")
            await twilio.wait_for(lambda before=before: len(twilio.media()) >= before + 10)
            await twilio.dtmf("2")
            await bot.wait_for(lambda answer=answer: len(bot.positions()) == 1 + answer)
            await twilio.wait_for(lambda answer=answer: len(twilio.events("clear")) == 1 + answer)
            # What this answer sent before its clear (the socket keeps the order), in 20 ms messages:
            # the listener heard all of it but the lead (40 ms) and the chunk playing (20 ms, + rounding).
            sent_ms = 20 * (media_before_clear(twilio, answer) - before)
            assert sent_ms - 80 <= bot.positions()[-1].position_ms <= sent_ms, answer


async def test_inbound_audio_is_resampled_to_the_pipeline_rate_when_asked() -> None:
    bot = Bot()
    serializer = TwilioFrameSerializer(input_sample_rate="pipeline")
    codes = ulaw_codes(160 * 20)
    async with call(bot, serializer=serializer, in_rate=16000) as (_, twilio):
        await twilio.stream(codes)
        await bot.wait_for(lambda: sum(f.num_frames for _, f in bot.inputs) >= 16 * 300)
        assert {f.sample_rate for _, f in bot.inputs} == {16000}
        pcm = b"".join(f.audio for _, f in bot.inputs)
        expected = resample(ulaw_decode(codes), 8000, 16000)
        assert pcm == expected[: len(pcm)]


async def test_an_interruption_unblocks_a_full_buffer_and_drops_the_queued_answer() -> None:
    bot = Bot(answer_ms=5000)  # far more than the buffer holds: the output's lane waits for room
    async with call(bot, max_buffer_ms=200) as (transport, twilio):
        await twilio.dtmf("1")
        await twilio.wait_for(lambda: len(twilio.media()) >= 10)
        await twilio.dtmf("2")
        await twilio.wait_for(lambda: bool(twilio.events("clear")))
        heard = len(twilio.media())
        await asyncio.sleep(0.3)
        assert len(twilio.media()) == heard  # the 4.5 s still queued upstream of the buffer were dropped
        assert transport.output().buffered_ms == 0
        (position,) = bot.positions()
        assert 20 * heard - 80 <= position.position_ms <= 20 * heard
        await twilio.dtmf("1")  # the next answer plays normally
        await twilio.wait_for(lambda: len(twilio.media()) >= heard + 10)

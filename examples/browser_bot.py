"""A browser bot with your own pipeline: the ``voxpipe web`` page, one bot per visitor, built here.

    python examples/browser_bot.py            # then open http://127.0.0.1:8080/ and press Talk
    python examples/browser_bot.py --base-url wss://api.openai.com/v1/realtime   # $OPENAI_API_KEY

Each visitor gets ``WebRTC in → OpenAIRealtimeBetaLLMService → transcript → idle nudge → page events →
WebRTC out``: the transcript processor logs both sides with timestamps, and after 10 s of silence the bot
asks whether the visitor is still there (twice, then it lets them be). Needs ``voxpipe[webrtc]``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys

from voxpipe.cli_options import add_realtime_options, realtime_target
from voxpipe.frames.frames import LLMMessagesAppendFrame
from voxpipe.observers.loggers.user_bot_latency_log_observer import UserBotLatencyLogObserver
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.processors.frame_processor import FrameProcessor
from voxpipe.processors.transcript_processor import TranscriptProcessor
from voxpipe.processors.user_idle_processor import UserIdleProcessor
from voxpipe.web.bot import BotSettings, make_service
from voxpipe.web.page_events import PageEventsProcessor, SendMessage

logger = logging.getLogger("browser_bot")


async def still_there(processor: UserIdleProcessor, retry_count: int) -> bool:
    """Nudge a silent visitor twice, then stop asking."""
    if retry_count > 2:
        return False
    await processor.push_frame(
        LLMMessagesAppendFrame(
            messages=[{"role": "user", "content": "(silence) Ask briefly whether I am still there."}],
            run_llm=True,
        )
    )
    return True


def make_task(
    settings: BotSettings, audio_in: FrameProcessor, audio_out: FrameProcessor, send: SendMessage
) -> PipelineTask:
    """One visitor's bot."""
    transcript = TranscriptProcessor()

    @transcript.event_handler("on_transcript_update")
    async def log_message(processor, frame) -> None:
        for message in frame.messages:
            logger.info("%s %s: %s", message.timestamp, message.role, message.content)

    pipeline = Pipeline(
        [
            audio_in,
            UserIdleProcessor(callback=still_there, timeout=10.0),
            make_service(settings),
            transcript.user(),
            transcript.assistant(),
            PageEventsProcessor(send),
            audio_out,
        ]
    )
    return PipelineTask(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=16000, audio_out_sample_rate=24000),
        observers=[UserBotLatencyLogObserver()],
        idle_timeout_secs=None,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="port (default: %(default)s)")
    add_realtime_options(parser, instructions="You are a cheerful assistant. Answer in one short sentence.")
    return parser


async def main(args: argparse.Namespace) -> None:
    import uvicorn

    from voxpipe.web.app import WebConfig, create_app

    async with realtime_target(args, sys.stdout, label="example") as (url, api_key):
        settings = BotSettings(realtime_url=url, api_key=api_key, instructions=args.instructions)
        app = create_app(WebConfig(bot=settings, make_task=make_task))
        listener = socket.create_server((args.host, args.port))
        print(f"open http://{args.host}:{listener.getsockname()[1]}/ and press Talk", flush=True)
        await uvicorn.Server(uvicorn.Config(app, log_level="warning")).serve(sockets=[listener])


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    asyncio.run(main(build_parser().parse_args()))

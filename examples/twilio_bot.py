"""A phone bot: Twilio Media Streams in, a realtime speech-to-speech model, Twilio out.

    voxpipe serve                      # a local Realtime-compatible server (no key, no network)
    python examples/twilio_bot.py      # listens on ws://127.0.0.1:8765 for Twilio's media stream

Point a Twilio number at it with TwiML that opens a bidirectional stream (Twilio needs a public
``wss://`` address: put a tunnel or a TLS proxy in front of this port)::

    <Response><Connect><Stream url="wss://your-host.example/" /></Connect></Response>

The whole call stays in G.711 μ-law at 8 kHz: Twilio sends it, the realtime session takes it as
``g711_ulaw`` and answers in it, so no audio is resampled anywhere. The server transport takes one call
at a time; when a call ends, the next pipeline starts listening again. ``--base-url`` and
``OPENAI_API_KEY`` point the bot at another Realtime server (OpenAI's, say).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Sequence
from typing import Any

from voxpipe.frames.frames import LLMMessagesAppendFrame
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.runner import PipelineRunner
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.serializers import InputDTMFFrame, TwilioFrameSerializer
from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService
from voxpipe.services.openai_realtime_beta.events import SessionProperties, TurnDetection
from voxpipe.transports.websocket import WebsocketParams, WebsocketServerTransport

logger = logging.getLogger("twilio_bot")

DEFAULT_BASE_URL = "ws://127.0.0.1:8000/v1/realtime"
"""Where ``voxpipe serve`` listens by default."""

INSTRUCTIONS = (
    "You are a friendly voice assistant on a phone call. Answer in one or two short sentences. "
    "Greet the caller when the call starts."
)


def build_parser() -> argparse.ArgumentParser:
    """The command line of this example."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default: %(default)s)")
    parser.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        help="the Realtime server's WebSocket URL (default: a local `voxpipe serve`, %(default)s)",
    )
    parser.add_argument("--model", default=None, help="the realtime model (default: the service's)")
    parser.add_argument("--instructions", default=INSTRUCTIONS, help="the bot's instructions")
    parser.add_argument("--calls", type=int, default=0, help="stop after this many calls (0: never)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    return parser


def build_task(args: argparse.Namespace) -> tuple[PipelineTask, WebsocketServerTransport]:
    """One call's pipeline: ``[Twilio in, realtime model, Twilio out]``, all in μ-law 8 kHz."""
    transport = WebsocketServerTransport(
        WebsocketParams(serializer=TwilioFrameSerializer()), host=args.host, port=args.port
    )
    service_kwargs: dict[str, Any] = {"model": args.model} if args.model else {}
    service = OpenAIRealtimeBetaLLMService(
        api_key=os.environ.get("OPENAI_API_KEY", "voxpipe-local"),
        base_url=args.base_url,
        session_properties=SessionProperties(
            instructions=args.instructions,
            input_audio_format="g711_ulaw",
            output_audio_format="g711_ulaw",
            turn_detection=TurnDetection(silence_duration_ms=500),
        ),
        **service_kwargs,
    )
    task = PipelineTask(
        Pipeline([transport.input(), service, transport.output()]),
        params=PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000),
        idle_timeout_secs=600,
    )

    @transport.event_handler("on_client_connected")
    async def on_connected(transport: WebsocketServerTransport, websocket: Any) -> None:
        logger.info("call connected; greeting the caller")
        greeting = {"role": "user", "content": "The call has just started: greet me."}
        await task.queue_frame(LLMMessagesAppendFrame(messages=[greeting], run_llm=True))

    @transport.event_handler("on_client_disconnected")
    async def on_disconnected(transport: WebsocketServerTransport, websocket: Any) -> None:
        logger.info("call ended")

    @task.event_handler("on_frame_reached_downstream")
    async def on_frame(task: PipelineTask, frame: Any) -> None:
        if isinstance(frame, InputDTMFFrame):
            logger.info("caller pressed %s", frame.digit)

    return task, transport


async def serve_calls(args: argparse.Namespace) -> None:
    """Run one pipeline per call, one call at a time, until ``--calls`` calls, Ctrl-C or a fatal error."""
    runner = PipelineRunner()
    calls = 0
    while args.calls <= 0 or calls < args.calls:
        task, _ = build_task(args)
        ended: list[bool] = []
        task.add_event_handler("on_pipeline_ended", lambda task, frame, ended=ended: ended.append(True))
        logger.info(
            "waiting for a call on ws://%s:%d (Realtime server: %s)", args.host, args.port, args.base_url
        )
        await runner.run(task)
        if not ended:
            break  # cancelled (Ctrl-C) or failed (the port is taken, say): do not listen again
        calls += 1


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: ``python examples/twilio_bot.py [--port 8765] [--base-url ...]``."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    asyncio.run(serve_calls(args))


if __name__ == "__main__":
    main()

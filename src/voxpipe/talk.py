"""``voxpipe talk``: talk to a bot with this machine's microphone and speaker.

By default the Realtime server is embedded (local models, or the test engines when they are not
installed); ``--base-url`` (and ``--api-key`` or ``$OPENAI_API_KEY``) point the bot at any other one.
Both sides' words are printed as they come, with each turn's latency (your end of speech to the bot's
first audio). Needs ``pip install "voxpipe[audio]"`` and PortAudio (Debian/Ubuntu: ``libportaudio2``).
Use headphones: without echo cancellation the bot hears itself and interrupts its own answers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any, TextIO

__all__ = ["TerminalTranscript", "add_talk_parser"]


class TerminalTranscript:
    """Prints the page-event messages of a conversation (see ``voxpipe.web.page_events``) as lines."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self._out = out
        self._bot_open = False

    def __call__(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "user.transcript" and message.get("final"):
            self._line(f"you: {message['text']}")
        elif kind == "bot.transcript":
            if not self._bot_open:
                self._out.write("bot: ")
                self._bot_open = True
            self._out.write(message["delta"])
        elif kind == "bot.done":
            self._end_bot_line()
        elif kind == "turn.latency":
            self._line(
                f"      (turn {message['turn']}: the bot answered {message['ms']} ms after you stopped)"
            )
        elif kind == "error":
            self._line(f"error: {message['message']}")
        self._out.flush()

    def _end_bot_line(self) -> None:
        if self._bot_open:
            self._out.write("\n")
            self._bot_open = False

    def _line(self, text: str) -> None:
        self._end_bot_line()
        self._out.write(text + "\n")


def add_talk_parser(subparsers: Any) -> None:
    """Register ``voxpipe talk`` on the CLI's subparsers."""
    from voxpipe.cli_options import add_realtime_options
    from voxpipe.web.bot import DEFAULT_INSTRUCTIONS

    parser = subparsers.add_parser(
        "talk",
        help="talk to a bot with the microphone and speaker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_realtime_options(parser, instructions=DEFAULT_INSTRUCTIONS)
    parser.add_argument("--input-device", default=None, help="microphone (PortAudio name or index)")
    parser.add_argument("--output-device", default=None, help="speaker (PortAudio name or index)")
    parser.add_argument(
        "--vad",
        choices=["server", "pipeline"],
        default="server",
        help="who decides the turns: the Realtime server's VAD, or Silero in this process "
        "(default: %(default)s)",
    )
    parser.set_defaults(handler=_run_talk_command)


def _device(value: str | None) -> int | str | None:
    return int(value) if value is not None and value.isdigit() else value


def _run_talk_command(args: argparse.Namespace) -> int:
    from voxpipe.transports.local.devices import AudioDeviceError, SoundDevices

    devices = SoundDevices()
    try:
        devices.check(
            input_device=_device(args.input_device),
            output_device=_device(args.output_device),
            need_input=True,
            need_output=True,
        )
    except AudioDeviceError as exc:
        print(f"voxpipe talk: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_talk(args, devices))
    return 0


async def _talk(args: argparse.Namespace, devices: Any) -> None:
    from voxpipe.cli_options import realtime_target
    from voxpipe.pipeline.runner import PipelineRunner
    from voxpipe.transports.local.audio import LocalAudioTransport, LocalAudioTransportParams
    from voxpipe.web.bot import BotSettings, make_bot_task

    async with realtime_target(args, sys.stdout, label="voxpipe talk") as (url, api_key):
        vad = None
        if args.vad == "pipeline":
            from voxpipe.audio.vad.silero import SileroVADAnalyzer

            vad = SileroVADAnalyzer()
        transport = LocalAudioTransport(
            LocalAudioTransportParams(
                vad_analyzer=vad,
                input_device=_device(args.input_device),
                output_device=_device(args.output_device),
                devices=devices,
            )
        )
        settings = BotSettings(
            realtime_url=url, api_key=api_key, instructions=args.instructions, vad=args.vad
        )
        task = make_bot_task(settings, transport.input(), transport.output(), TerminalTranscript())
        print("voxpipe talk: speak now (Ctrl-C to stop)", flush=True)
        await PipelineRunner().run(task)

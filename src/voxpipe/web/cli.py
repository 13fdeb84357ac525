"""``voxpipe web``: serve the talk page and run one bot per visitor against a Realtime server.

By default the Realtime server is embedded (local models, or the test engines when they are not
installed); ``--base-url`` (and ``--api-key`` or ``$OPENAI_API_KEY``) point the bots at any other one.
Needs ``pip install "voxpipe[webrtc]"``. Open the printed address in a browser and press Talk.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import sys
from typing import Any

__all__ = ["add_web_parser"]

logger = logging.getLogger(__name__)


def add_web_parser(subparsers: Any) -> None:
    """Register ``voxpipe web`` on the CLI's subparsers."""
    from voxpipe.cli_options import add_realtime_options
    from voxpipe.web.bot import DEFAULT_INSTRUCTIONS

    parser = subparsers.add_parser(
        "web",
        help="a browser page to talk to a bot (WebRTC), one bot per visitor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port, 0 for any (default: %(default)s)")
    add_realtime_options(parser, instructions=DEFAULT_INSTRUCTIONS)
    parser.add_argument(
        "--vad",
        choices=["server", "pipeline"],
        default="server",
        help="who decides the turns: the Realtime server's VAD, or Silero in this process "
        "(turn detection off on the server) (default: %(default)s)",
    )
    parser.add_argument("--max-visitors", type=int, default=8, help="visitors served at once")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    parser.set_defaults(handler=_run_web_command)


def _run_web_command(args: argparse.Namespace) -> int:
    try:
        import aiortc  # noqa: F401
    except ImportError:
        print('voxpipe web: needs the WebRTC extra: pip install "voxpipe[webrtc]"', file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


async def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from voxpipe.cli_options import realtime_target
    from voxpipe.web.app import WebConfig, create_app
    from voxpipe.web.bot import BotSettings

    async with realtime_target(args, sys.stdout, label="voxpipe web") as (url, api_key):
        settings = BotSettings(
            realtime_url=url, api_key=api_key, instructions=args.instructions, vad=args.vad
        )
        app = create_app(WebConfig(bot=settings, max_visitors=args.max_visitors))
        config = uvicorn.Config(app, log_level=args.log_level, lifespan="on")
        listener = socket.create_server((args.host, args.port), family=_family(args.host))
        host, port = listener.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"voxpipe web: open http://{shown}:{port}/ and press Talk (Ctrl-C to stop)", flush=True)
        await uvicorn.Server(config).serve(sockets=[listener])


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET

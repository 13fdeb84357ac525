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
import os
import sys
from typing import Any

__all__ = ["add_web_parser"]

logger = logging.getLogger(__name__)


def add_web_parser(subparsers: Any) -> None:
    """Register ``voxpipe web`` on the CLI's subparsers."""
    from voxpipe.web.bot import DEFAULT_INSTRUCTIONS

    parser = subparsers.add_parser(
        "web",
        help="a browser page to talk to a bot (WebRTC), one bot per visitor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port, 0 for any (default: %(default)s)")
    parser.add_argument("--base-url", default=None, help="a Realtime server's WebSocket URL (default: embedded)")
    parser.add_argument("--api-key", default=None, help="key for --base-url (default: $OPENAI_API_KEY)")
    parser.add_argument(
        "--engines", choices=["local", "test", "http"], default=None, help="embedded server engines"
    )
    parser.add_argument("--instructions", default=DEFAULT_INSTRUCTIONS, help="the bot's instructions")
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

    from voxpipe.demo import embedded_server
    from voxpipe.web.app import WebConfig, create_app
    from voxpipe.web.bot import BotSettings

    async with contextlib.AsyncExitStack() as stack:
        if args.base_url is None:
            url = await stack.enter_async_context(embedded_server(args.engines, sys.stdout, label="voxpipe web"))
            api_key = "voxpipe-local"
        else:
            url, api_key = args.base_url, args.api_key or os.environ.get("OPENAI_API_KEY", "")
        settings = BotSettings(realtime_url=url, api_key=api_key, instructions=args.instructions, vad=args.vad)
        app = create_app(WebConfig(bot=settings, max_visitors=args.max_visitors))
        config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level, lifespan="on")
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(), name="voxpipe-web.uvicorn")
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        if server.started:
            host, port = server.servers[0].sockets[0].getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            print(f"voxpipe web: open http://{shown}:{port}/ and press Talk (Ctrl-C to stop)", flush=True)
        await serving

"""Options the talking commands share (``voxpipe demo``, ``talk``, ``web``): which Realtime server to use.

Each command talks to the embedded local server by default, or to ``--base-url`` with ``--api-key``
(``$OPENAI_API_KEY`` when not given).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["add_realtime_options", "realtime_target"]


def add_realtime_options(parser: argparse.ArgumentParser, *, instructions: str) -> None:
    """Add ``--base-url``, ``--api-key``, ``--engines`` and ``--instructions`` to ``parser``."""
    parser.add_argument(
        "--base-url", default=None, help="a Realtime server's WebSocket URL (default: embedded)"
    )
    parser.add_argument("--api-key", default=None, help="key for --base-url (default: $OPENAI_API_KEY)")
    parser.add_argument(
        "--engines", choices=["local", "test", "http"], default=None, help="embedded server engines"
    )
    parser.add_argument("--instructions", default=instructions, help="the bot's instructions")


@contextlib.asynccontextmanager
async def realtime_target(
    args: argparse.Namespace, out: Any, *, label: str
) -> AsyncIterator[tuple[str, str]]:
    """Yield ``(url, api_key)`` of the Realtime server to talk to, starting the embedded one if needed."""
    if args.base_url is not None:
        yield args.base_url, args.api_key or os.environ.get("OPENAI_API_KEY", "")
        return
    from voxpipe.demo import embedded_server

    async with embedded_server(args.engines, out, label=label) as url:
        yield url, "voxpipe-local"

"""Options the talking commands share (``voxpipe demo``, ``talk``, ``web``): which Realtime server to use.

Each command talks to the embedded local server by default, or to ``--base-url`` with ``--api-key``
(``$OPENAI_API_KEY`` when not given). ``--llm`` (also on ``voxpipe serve``) picks the local LLM.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["LLM_HELP", "add_llm_option", "add_realtime_options", "local_engine_options", "realtime_target"]

LLM_HELP = (
    "the local LLM (local engines only): qwen2.5-coder-0.5b-instruct (default), "
    "qwen2.5-coder-1.5b-instruct (better answers, slower, 1.9 GB RSS; install its weights with "
    "./scripts/setup-1.5b), smollm2-135m-instruct (light, no tools)"
)
"""Help of ``--llm``; names kept literal so that building the parser imports no server code (a test
checks them against ``voxpipe.server.engines.local.profiles.LLM_PROFILES``)."""


def add_llm_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--llm NAME`` (checked when the engines load: the names live with the server code)."""
    parser.add_argument("--llm", default=None, metavar="NAME", help=LLM_HELP)


def local_engine_options(engines: str | None, llm: str | None) -> tuple[str | None, dict[str, Any]]:
    """The engine set and its options for ``--engines`` and ``--llm``.

    ``--llm`` means the local engines: with no ``--engines`` it selects them (no fallback to the test
    engines: the user asked for a model), with another set it is a usage error.

    Raises:
        VoxpipeUsageError: ``--llm`` with ``--engines test`` or ``http``.
    """
    if llm is None:
        return engines, {}
    if engines not in (None, "local"):
        from voxpipe.errors import VoxpipeUsageError

        raise VoxpipeUsageError(
            f"--llm chooses a local model, but --engines is {engines!r}; the http engines take "
            "VOXPIPE_LLM_MODEL instead"
        )
    return "local", {"llm_model": llm}


def add_realtime_options(parser: argparse.ArgumentParser, *, instructions: str) -> None:
    """Add ``--base-url``, ``--api-key``, ``--engines``, ``--llm`` and ``--instructions`` to ``parser``."""
    parser.add_argument(
        "--base-url", default=None, help="a Realtime server's WebSocket URL (default: embedded)"
    )
    parser.add_argument("--api-key", default=None, help="key for --base-url (default: $OPENAI_API_KEY)")
    parser.add_argument(
        "--engines", choices=["local", "test", "http"], default=None, help="embedded server engines"
    )
    add_llm_option(parser)
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

    async with embedded_server(args.engines, out, label=label, llm=args.llm) as url:
        yield url, "voxpipe-local"

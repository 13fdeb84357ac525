"""The ``voxpipe`` command line: one subcommand per function, registered in ``_COMMANDS``.

Adding a subcommand is one function that takes the subparsers, adds its parser and sets ``handler``::

    def _add_demo(subparsers: argparse._SubParsersAction) -> None:
        parser = subparsers.add_parser("demo", help="...")
        parser.set_defaults(handler=_run_demo)

and its name in ``_COMMANDS``. Handlers take the parsed arguments and return the exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["main"]

logger = logging.getLogger("voxpipe.cli")

_Adder = Callable[[Any], None]


def _add_serve(subparsers: Any) -> None:
    from voxpipe.cli_options import add_llm_option

    parser = subparsers.add_parser(
        "serve",
        help="run the local OpenAI-Realtime-compatible server",
        description="Serve the OpenAI Realtime WebSocket protocol (beta and GA shapes) on local engines.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("VOXPIPE_API_KEY"),
        help="key clients must present (default: $VOXPIPE_API_KEY; none: no check)",
    )
    parser.add_argument(
        "--engines",
        choices=["local", "test", "http"],
        default=None,
        help="engine set: 'local' (offline models) or 'test' (deterministic fakes); "
        "default: local when installed, else test",
    )
    add_llm_option(parser)
    parser.add_argument(
        "--deflate", action="store_true", help="accept permessage-deflate (costs CPU; off by default)"
    )
    parser.add_argument("--max-session-minutes", type=float, default=30.0, help="session length limit")
    parser.add_argument(
        "--max-sessions",
        type=int,
        default=None,
        help="sessions at once; more are refused with HTTP 503 (default: per engine set: "
        "local 4, http 64, test 200)",
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=2.5,
        help="on SIGTERM, stop being ready and let open sessions go on this long before closing them "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a web page origin (https://app.example.com) allowed besides same-origin and loopback pages; "
        "repeat for more; '*' allows every page",
    )
    parser.add_argument(
        "--send-timeout",
        type=float,
        default=10.0,
        help="disconnect a client that takes nothing sent to it for this many seconds (default: %(default)s)",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.set_defaults(handler=_run_serve)


def _choose_engines(requested: str | None, options: dict[str, Any] | None = None) -> tuple[Any, str]:
    """Load the requested engine set, else ``local`` falling back to ``test``; returns (engines, name).

    Loading a set is cheap (models load on first use or at warm-up), so this trial load only finds out
    whether the set can be used; the server then loads the chosen set by name and owns it.
    """
    from voxpipe.server import engines as engine_sets

    if requested is not None:
        return engine_sets.load_engines(requested, **(options or {})), requested
    try:
        return engine_sets.load_engines("local"), "local"
    except engine_sets.EngineUnavailableError as exc:
        print(f"voxpipe serve: the local models are not available ({exc}).", file=sys.stderr)
        print(
            "voxpipe serve: falling back to the deterministic TEST engines (no real speech).", file=sys.stderr
        )
        return engine_sets.load_engines("test"), "test"


def _check_llm_weights(llm: str | None) -> None:
    """Join and verify the local LLM's weights now (once per machine; a stat later), so that a missing or
    damaged chunk is one plain line naming the fix rather than a failed server start-up."""
    from voxpipe.server.engines.local.profiles import DEFAULT_LLM, LLM_PROFILES

    LLM_PROFILES[llm or DEFAULT_LLM].path()


def _run_serve(args: argparse.Namespace) -> int:
    from voxpipe.cli_options import local_engine_options
    from voxpipe.errors import VoxpipeUsageError
    from voxpipe.server import ServerConfig, ServerLimits, serve
    from voxpipe.server.engines import EngineError, EngineUnavailableError
    from voxpipe.utils.endpoints import Endpoint

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        requested, options = local_engine_options(args.engines, args.llm)
        trial, name = _choose_engines(requested, options)
    except (EngineUnavailableError, VoxpipeUsageError) as exc:
        print(f"voxpipe serve: {exc}", file=sys.stderr)
        return 2
    asyncio.run(trial.aclose())
    if name == "local":
        try:
            _check_llm_weights(options.get("llm_model"))
        except EngineError as exc:
            print(f"voxpipe serve: {exc}", file=sys.stderr)
            return 2
    config = ServerConfig(
        host=args.host,
        port=args.port,
        api_key=args.api_key or None,
        engines=name,
        engine_options=options,
        limits=ServerLimits(max_session_s=args.max_session_minutes * 60, send_timeout_s=args.send_timeout),
        per_message_deflate=args.deflate,
        max_sessions=args.max_sessions,
        drain_s=args.drain_seconds,
        allowed_origins=tuple(args.allow_origin),
    )
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"voxpipe serve: ws://{host}:{args.port}/v1/realtime?model=<name>")
    print("  shapes:  GA by default; beta with header 'OpenAI-Beta: realtime=v1'")
    print("           or subprotocol 'openai-beta.realtime-v1'")
    print(
        f"  engines: {name}"
        + (
            f" (LLM {args.llm or 'qwen2.5-coder-0.5b-instruct'}; loading the models first: connections are "
            "accepted once they are in)"
            if name == "local"
            else ""
        )
    )
    print(f"  api key: {'required' if config.api_key else 'not required'}")
    base = Endpoint(host, args.port).http
    print(f"  keys:    POST {base}/v1/realtime/sessions (beta), POST {base}/v1/realtime/client_secrets (GA)")
    print(f"  health:  GET  {base}/health/live, {base}/health/ready; metrics: GET {base}/metrics")
    sys.stdout.flush()

    asyncio.run(serve(config, log_level=args.log_level))
    return 0


def _add_demo(subparsers: Any) -> None:
    from voxpipe.demo import add_demo_parser

    add_demo_parser(subparsers)


def _add_web(subparsers: Any) -> None:
    from voxpipe.web.cli import add_web_parser

    add_web_parser(subparsers)


def _add_talk(subparsers: Any) -> None:
    from voxpipe.talk import add_talk_parser

    add_talk_parser(subparsers)


_COMMANDS: list[_Adder] = [_add_serve, _add_demo, _add_talk, _add_web]


def build_parser() -> argparse.ArgumentParser:
    """The ``voxpipe`` parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="voxpipe", description="voxpipe: realtime voice agents")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``voxpipe`` script; returns the exit status."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())

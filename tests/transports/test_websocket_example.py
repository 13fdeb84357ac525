"""``examples/twilio_bot.py`` imports, builds its pipeline and answers ``--help`` (it is never run here)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from voxpipe.transports.websocket import WebsocketServerTransport

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "twilio_bot.py"


def test_help_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "--base-url" in result.stdout and "voxpipe serve" in result.stdout


def test_builds_a_pipeline_without_running_it() -> None:
    spec = importlib.util.spec_from_file_location("twilio_bot_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = module.build_parser().parse_args(["--port", "0"])
    assert args.base_url == "ws://127.0.0.1:8000/v1/realtime"
    task, transport = module.build_task(args)
    assert isinstance(transport, WebsocketServerTransport)
    assert task.params.audio_in_sample_rate == 8000

"""Every example answers ``--help`` (smoke test: it imports and builds its command line), and the
text path of the function-calling example runs end to end on the test engines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ["realtime_beta_usage.py", "function_calling_bot.py", "browser_bot.py", "microphone_bot.py"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.mark.parametrize("example", EXAMPLES)
def test_help(example: str) -> None:
    result = run(str(ROOT / "examples" / example), "--help")
    assert result.returncode == 0, result.stderr
    assert "--base-url" in result.stdout


def test_function_calling_example_calls_the_function(tmp_path: Path) -> None:
    result = run(
        str(ROOT / "examples" / "function_calling_bot.py"),
        "--engines",
        "test",
        "--text",
        "weather in paris",
        "--output",
        str(tmp_path / "answer.wav"),
        timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[get_weather called with" in result.stdout
    assert "sunny" in result.stdout.lower()

"""``voxpipe talk``: help works; without a usable audio device it exits non-zero with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from voxpipe.cli import main

SRC = Path(__file__).resolve().parents[1] / "src"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-m", "voxpipe.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_talk_help() -> None:
    result = run_cli("talk", "--help")
    assert result.returncode == 0
    assert "microphone" in result.stdout and "--base-url" in result.stdout


def test_no_audio_device_is_one_clear_line_and_a_failure() -> None:
    # On a machine without PortAudio this fails on the library; with PortAudio, on the device name.
    result = run_cli("talk", "--input-device", "no-such-microphone-xyz")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("voxpipe talk: ")
    assert "PortAudio" in lines[0] or "no-such-microphone-xyz" in lines[0]
    assert result.stdout == ""  # nothing started


def test_missing_portaudio_names_the_package_to_install(monkeypatch, capsys) -> None:
    import builtins

    real_import = builtins.__import__

    def no_portaudio(name: str, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_portaudio)
    assert main(["talk"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "voxpipe talk: no audio: the PortAudio library is missing; install PortAudio "
        "(Debian/Ubuntu: apt-get install libportaudio2; macOS: brew install portaudio)"
    ]


@pytest.mark.parametrize("command", ["web", "demo", "serve"])
def test_other_commands_help(command: str) -> None:
    assert run_cli(command, "--help").returncode == 0

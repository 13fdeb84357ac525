"""A real browser talking to ``voxpipe web``: the command in a subprocess, Debian's Chromium headless with a
fake microphone playing a WAV file (flags from ``../shared/reference/browser-testing.md``), driven by
Playwright (which launches the system Chromium: it never downloads a browser)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from voxpipe.audio import read_wav, resample, silence, write_wav

SRC = Path(__file__).resolve().parents[2] / "src"
CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/lib/chromium-browser/chromium-browser")


def chromium_path() -> str:
    """The Chromium binary, or skip (``./scripts/test`` installs Debian's ``chromium``)."""
    for path in CHROMIUM_PATHS:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("chromium")
    if found is None:
        pytest.skip("Chromium is not installed (./scripts/test installs Debian's chromium)")
    return found


def fake_microphone(question: Path, target: Path) -> Path:
    """The question as a 16-bit 48 kHz WAV for Chromium's fake microphone: 1.5 s of silence before it (the
    file starts playing when the page opens the microphone, before the call is up) and 6 s after."""
    audio = read_wav(question)
    pcm = resample(audio.pcm, audio.sample_rate, 48000)
    write_wav(target, silence(1500, 48000) + pcm + silence(6000, 48000), 48000, 1)
    return target


@asynccontextmanager
async def voxpipe_web(*args: str, timeout: float = 180.0) -> AsyncIterator[str]:
    """Run ``voxpipe web --port 0 ARGS`` and yield the page's URL once it serves; stop it after."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [sys.executable, "-m", "voxpipe.cli", "web", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                line = await asyncio.to_thread(process.stdout.readline)  # type: ignore[union-attr]
                if not line:
                    raise AssertionError("voxpipe web exited:\n" + "".join(lines))
                lines.append(line)
                if line.startswith("voxpipe web: open "):
                    yield line.split()[3]
                    return
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 15)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        if process.stdout is not None:
            process.stdout.close()


def status(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "api/status", timeout=5) as reply:
        result: dict[str, Any] = json.load(reply)
        return result


@dataclass
class PageResult:
    """What the page showed."""

    messages: list[tuple[str, str]] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    status: str = ""


ANSWERED = """() => {
  const v = window.voxpipe;
  return v.messages.some(m => m.kind === "bot" && m.text && !m.li.classList.contains("pending"))
      && v.turns.some(t => t.heardMs != null && t.serverMs != null);
}"""


async def talk(
    url: str,
    microphone: Path,
    screenshot: Path,
    home: Path,
    *,
    timeout_s: float = 60.0,
    allow_mic: bool = True,
    query: str = "?processing=0",
) -> PageResult:
    """Open the page, press Talk, wait for a spoken answer (or the page's error), screenshot, leave."""
    from playwright.async_api import async_playwright

    args = [
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}%noloop",
        "--allow-loopback-in-peer-connection",
        "--autoplay-policy=no-user-gesture-required",
    ]
    if allow_mic:
        args.append("--use-fake-ui-for-media-stream")
    home.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=args, env={**os.environ, "HOME": str(home)}
        )
        try:
            page = await browser.new_page()
            await page.goto(url + query)
            await page.click("#talk")
            if allow_mic:
                await page.wait_for_function(ANSWERED, timeout=timeout_s * 1000)
            else:
                await page.wait_for_function("document.getElementById('error').textContent", timeout=10000)
            result = PageResult(
                messages=[
                    tuple(m)
                    for m in await page.evaluate("window.voxpipe.messages.map(m => [m.kind, m.text])")
                ],
                turns=await page.evaluate("window.voxpipe.turns.map(({bot, ...t}) => t)"),
                error=await page.inner_text("#error"),
                status=await page.inner_text("#status"),
            )
            await page.screenshot(path=str(screenshot), full_page=True)
            await page.close(run_before_unload=True)
        finally:
            await browser.close()
    return result

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


LEAD_MS = 4000
"""Silence the fake microphone plays before the question. Chromium starts playing the file when the page
opens the microphone, before the call is up, and sends nothing until it is: whatever plays before the call
connects is lost, as a user's words before "Connected" would be. On a busy machine (load 6-10) the call
connected 0.6-1.7 s after the microphone opened, and in 2 runs of 6 over 2 s, which cut "What is the" off a
question that began 1.5 s in (the server heard "capital and friends"; the recordings showed the first audio
aiortc got was already 0.55 s into the question). :func:`assert_spoke_after_connecting` checks the margin in
every run."""

CONNECT_MARGIN_MS = 500
"""How much sooner than ``LEAD_MS`` the call must connect: the device opens a little before the page hears
of it, and the first packets take a moment."""


def fake_microphone(question: Path, target: Path) -> Path:
    """The question as a 16-bit 48 kHz WAV for Chromium's fake microphone: ``LEAD_MS`` of silence before it
    and 6 s after (the server's VAD needs the silence to end the turn)."""
    audio = read_wav(question)
    pcm = resample(audio.pcm, audio.sample_rate, 48000)
    write_wav(target, silence(LEAD_MS, 48000) + pcm + silence(6000, 48000), 48000, 1)
    return target


@asynccontextmanager
async def voxpipe_web(
    *args: str, timeout: float = 180.0, env: dict[str, str] | None = None
) -> AsyncIterator[str]:
    """Run ``voxpipe web --port 0 ARGS`` (with ``env`` added to the environment) and yield the page's URL
    once it serves; stop it after."""
    env = {
        **os.environ,
        **(env or {}),
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
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
    timeline: dict[str, int] = field(default_factory=dict)  # ms from pressing Talk to each step of the call


def assert_spoke_after_connecting(result: PageResult) -> None:
    """The question began after the call was up (else its first words were never sent: see ``LEAD_MS``)."""
    connect_ms = result.timeline["connected"] - result.timeline["micOpened"]
    assert connect_ms < LEAD_MS - CONNECT_MARGIN_MS, (
        f"the call connected {connect_ms} ms after the microphone opened, too close to the question "
        f"({LEAD_MS} ms in): its first words may never have been sent (timeline {result.timeline})"
    )


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
                timeline=await page.evaluate("window.voxpipe.timeline"),
            )
            await page.screenshot(path=str(screenshot), full_page=True)
            await page.close(run_before_unload=True)
        finally:
            await browser.close()
    return result

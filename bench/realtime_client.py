"""How much CPU the realtime service costs a bot, and how long importing it takes.

Measures, in one run:

1. ``import voxpipe.services.openai_realtime_beta`` in a fresh interpreter (best and median of 5, from
   bytecode, as ``bench/import_time.py`` measures it); target < 0.3 s.
2. CPU time of a client process running ``[16 kHz mic frames (20 ms, paced) -> service -> sink]`` against
   a loopback server (another process) that streams 24 kHz answers in real time, per second of
   conversation; the same pipeline without the service is measured too and subtracted, so the figure
   is the service's own cost. Target: under 2% of one core.

Usage: ``python bench/realtime_client.py [--seconds 20]``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from voxpipe.frames.frames import Frame, InputAudioRawFrame, TTSAudioRawFrame
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineTask
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor

HERE = Path(__file__).resolve().parent


class Microphone(FrameProcessor):
    """16 kHz mono speech-like frames every 20 ms, paced in real time."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        t = np.arange(320) / 16000
        self.audio = (3000 * np.sin(2 * np.pi * 200 * t)).astype("<i2").tobytes()

    async def start(self, frame: Frame) -> None:  # type: ignore[override]
        self.create_task(self._run())

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await self.push_frame(frame, direction)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(int(self.seconds * 50)):
            await self.push_frame(InputAudioRawFrame(audio=self.audio, sample_rate=16000))
            await asyncio.sleep(max(0.0, start + (i + 1) * 0.02 - loop.time()))


class Speaker(FrameProcessor):
    """Counts the answer audio it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.audio_ms = 0.0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, TTSAudioRawFrame):
            self.audio_ms += frame.duration_ms
        await self.push_frame(frame, direction)


async def run_pipeline(seconds: float, url: str | None) -> tuple[float, float, float]:
    """Run the pipeline for ``seconds``; return (cpu seconds, wall seconds, answer audio ms)."""
    mic, speaker = Microphone(seconds), Speaker()
    stages: list[FrameProcessor] = [mic]
    if url is not None:
        from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService

        stages.append(OpenAIRealtimeBetaLLMService(api_key="bench", base_url=url))
    stages.append(speaker)
    task = PipelineTask(Pipeline(stages), idle_timeout_secs=None)
    runner = asyncio.create_task(task.run())
    await asyncio.sleep(1.0)  # connect and settle before measuring
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds - 1.5)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await task.cancel()
    await runner
    return cpu, wall, speaker.audio_ms


def import_time() -> tuple[float, float]:
    """Best and median wall seconds of the service's import (``bench/import_time.py``, bytecode state)."""
    from import_time import measure_import  # bench/ is on the path when this runs as a script

    runs = measure_import(samples=5)
    return min(runs), statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each measured conversation")
    args = parser.parse_args()

    imported = import_time()
    server = subprocess.Popen(
        [sys.executable, str(HERE / "_streaming_server.py")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        url = f"ws://127.0.0.1:{port}/v1/realtime"
        base_cpu, base_wall, _ = asyncio.run(run_pipeline(args.seconds, None))
        cpu, wall, audio_ms = asyncio.run(run_pipeline(args.seconds, url))
    finally:
        server.terminate()
        server.wait()
    service_share = max(0.0, cpu / wall - base_cpu / base_wall)
    print("load average (1, 5, 15 min) after the runs: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    best, median = imported
    print(
        f"import voxpipe.services.openai_realtime_beta: best {best * 1000:.0f} ms,"
        f" median {median * 1000:.0f} ms of 5, from bytecode"
        f"   target < 300 ms (best): {'PASS' if best < 0.3 else 'FAIL'}"
        "   (bench/import_time.py for the details and the deferred first-use cost)"
    )
    print(
        f"conversation: {wall:.1f} s measured, 16 kHz mic in 20 ms frames, "
        f"{audio_ms / 1000:.1f} s of 24 kHz answer"
    )
    print(
        f"client process CPU: {100 * cpu / wall:.2f}% of one core (pipeline without the service: "
        f"{100 * base_cpu / base_wall:.2f}%)"
    )
    print(
        f"the service's own CPU: {100 * service_share:.2f}% of one core per second of conversation"
        f"   target < 2%: {'PASS' if service_share < 0.02 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()

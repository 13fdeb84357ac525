"""``voxpipe demo``: one spoken conversation turn, end to end, with no API key and no network.

It starts the embedded realtime server in this process on a free loopback port (unless ``--base-url``
points at another Realtime server), plays a spoken question through
``WAV in → OpenAIRealtimeBetaLLMService → WAV out``, prints what was heard, what was answered and how long
the first audio of the answer took, and writes the spoken answer to a WAV file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from voxpipe.frames.frames import (
    Frame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
    MetricsFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
)
from voxpipe.metrics.metrics import TTFBMetricsData
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor

__all__ = ["DemoReport", "add_demo_parser", "embedded_server", "run_demo"]

DEFAULT_INSTRUCTIONS = "You are a helpful voice assistant. Answer in one or two short sentences."


def bundled_question() -> Path:
    """The spoken question shipped with voxpipe ("What is the capital of France?")."""
    return Path(str(resources.files("voxpipe") / "assets" / "question_capital_of_france_16k.wav"))


@dataclass
class DemoReport:
    """What one demo turn produced.

    Attributes:
        transcript: what the server heard the user say.
        answer: the text of the spoken answer.
        answer_audio_ms: how much answer audio arrived.
        first_audio_s: from the end of the user's audio to the first answer audio, in seconds.
        ttfb_s: the service's time to first byte (server end of speech to first audio).
        errors: error messages reported by the pipeline.
    """

    transcript: str = ""
    answer: str = ""
    answer_audio_ms: float = 0.0
    first_audio_s: float | None = None
    ttfb_s: float | None = None
    errors: list[str] = field(default_factory=list)


class _Reporter(FrameProcessor):
    """Watches the turn go by: transcript, answer text and audio, metrics, errors; ends the run after it."""

    def __init__(self, report: DemoReport, done: asyncio.Event) -> None:
        super().__init__(name="demo-reporter")
        self.report = report
        self.done = done
        self.speech_ended_at: float | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        report = self.report
        if isinstance(frame, TranscriptionFrame):
            report.transcript = (report.transcript + " " + frame.text).strip()
        elif isinstance(frame, LLMTextFrame):
            report.answer += frame.text
        elif isinstance(frame, TTSAudioRawFrame):
            if report.first_audio_s is None and self.speech_ended_at is not None:
                report.first_audio_s = time.perf_counter() - self.speech_ended_at
            report.answer_audio_ms += frame.duration_ms
        elif isinstance(frame, MetricsFrame):
            for data in frame.data:
                if isinstance(data, TTFBMetricsData) and report.ttfb_s is None:
                    report.ttfb_s = data.value
        elif isinstance(frame, LLMFullResponseEndFrame) and (report.answer or report.answer_audio_ms):
            self.done.set()
        await self.push_frame(frame, direction)


@contextlib.asynccontextmanager
async def embedded_server(
    engines_name: str | None, out: Any, *, label: str = "voxpipe demo", llm: str | None = None
) -> AsyncIterator[str]:
    """Start the local realtime server in this process (models warmed up); yield its WebSocket URL.

    ``engines_name`` None tries the local models and falls back to the test engines; progress lines go
    to ``out``, prefixed with ``label``. ``llm`` picks the local LLM (``--llm``; no fallback then).
    ``voxpipe talk`` and ``voxpipe web`` use it too.
    """
    from voxpipe.cli_options import local_engine_options
    from voxpipe.server import LocalRealtimeServer, ServerConfig
    from voxpipe.server.engines import EngineUnavailableError, load_engines

    started = time.perf_counter()
    print(f"{label}: loading the engines…", file=out, flush=True)
    engines_name, options = local_engine_options(engines_name, llm)
    try:
        engines = load_engines(engines_name or "local", **options)
        name = engines_name or "local"
    except EngineUnavailableError as exc:
        if engines_name is not None:
            raise
        print(f"{label}: the local models are not installed ({exc})", file=out)
        print(
            f"{label}: using the deterministic TEST engines instead (no real speech)",
            file=out,
            flush=True,
        )
        engines, name = load_engines("test"), "test"
    for role in ("vad", "stt", "llm", "tts"):
        engine = getattr(engines, role, None)
        warm_up = getattr(engine, "warm_up", None)
        if warm_up is not None:
            t0 = time.perf_counter()
            await warm_up()
            print(f"{label}:   {role:<3} ready in {time.perf_counter() - t0:5.2f} s", file=out, flush=True)
    try:
        async with LocalRealtimeServer(ServerConfig(port=0, engines=engines)) as server:
            print(
                f"{label}: {name} engines ready in {time.perf_counter() - started:.1f} s; "
                f"server at {server.realtime_url}",
                file=out,
                flush=True,
            )
            yield server.realtime_url
    finally:
        await engines.aclose()


async def run_demo(
    *,
    input_path: Path | None = None,
    output_path: Path = Path("voxpipe-answer.wav"),
    base_url: str | None = None,
    api_key: str | None = None,
    engines: str | None = None,
    llm: str | None = None,
    instructions: str = DEFAULT_INSTRUCTIONS,
    timeout_s: float = 90.0,
    out: Any = sys.stdout,
) -> DemoReport:
    """Run one spoken turn and return what happened (also printed to ``out``)."""
    from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService
    from voxpipe.services.openai_realtime_beta.events import (
        InputAudioTranscription,
        SessionProperties,
        TurnDetection,
    )
    from voxpipe.transports.file import (
        WavFileInputParams,
        WavFileInputTransport,
        WavFileOutputParams,
        WavFileOutputTransport,
    )

    question = input_path or bundled_question()
    report = DemoReport()
    async with contextlib.AsyncExitStack() as stack:
        if base_url is None:
            url = await stack.enter_async_context(embedded_server(engines, out, llm=llm))
        else:
            url = base_url
        done = asyncio.Event()
        reporter = _Reporter(report, done)
        source = WavFileInputTransport(
            question, WavFileInputParams(lead_in_ms=300, silence_tail_ms=int(timeout_s * 1000))
        )
        source.add_event_handler(
            "on_speech_finished", lambda _: setattr(reporter, "speech_ended_at", time.perf_counter())
        )
        service = OpenAIRealtimeBetaLLMService(
            api_key=api_key or "voxpipe-local",
            base_url=url,
            session_properties=SessionProperties(
                instructions=instructions,
                voice="alloy",
                input_audio_transcription=InputAudioTranscription(model="whisper-1", language="en"),
                turn_detection=TurnDetection(silence_duration_ms=500),
            ),
        )
        output = WavFileOutputTransport(output_path, WavFileOutputParams(realtime=False))
        task = PipelineTask(
            Pipeline([source, service, reporter, output]),
            params=PipelineParams(
                enable_metrics=True, audio_in_sample_rate=16000, audio_out_sample_rate=24000
            ),
        )
        task.add_event_handler("on_pipeline_error", lambda _, frame: report.errors.append(frame.error))
        print(f"voxpipe demo: speaking {question.name} to {url}", file=out, flush=True)
        runner = asyncio.create_task(task.run())
        waiter = asyncio.create_task(done.wait())
        try:
            finished, _ = await asyncio.wait(
                {waiter, runner}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
            if not finished:
                report.errors.append(f"no complete answer within {timeout_s:.0f} s")
        finally:
            waiter.cancel()
            await asyncio.wait({waiter})
        if not task.has_finished():
            await task.stop_when_done()
        await asyncio.wait_for(runner, timeout=15)
    _print_report(report, output_path, out)
    return report


def _print_report(report: DemoReport, output_path: Path, out: Any) -> None:
    print(f"you said:     {report.transcript or '(no transcript)'}", file=out)
    print(f"bot answered: {report.answer.strip() or '(no text)'}", file=out)
    if report.first_audio_s is not None:
        print(f"end of your audio -> first answer audio: {report.first_audio_s * 1000:.0f} ms", file=out)
    if report.ttfb_s is not None:
        print(f"server end of speech -> first answer audio (TTFB): {report.ttfb_s * 1000:.0f} ms", file=out)
    print(f"answer audio: {report.answer_audio_ms / 1000:.1f} s written to {output_path}", file=out)
    for error in report.errors:
        print(f"error: {error}", file=out)


def add_demo_parser(subparsers: Any) -> None:
    """Register ``voxpipe demo`` on the CLI's subparsers."""
    from voxpipe.cli_options import add_realtime_options

    parser = subparsers.add_parser(
        "demo",
        help="one spoken turn against the embedded local server (or any Realtime server)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--input", type=Path, default=None, help="a WAV file with the question (default: bundled)"
    )
    parser.add_argument(
        "--output", type=Path, default=Path("voxpipe-answer.wav"), help="where the answer goes"
    )
    add_realtime_options(parser, instructions=DEFAULT_INSTRUCTIONS)
    parser.add_argument("--timeout", type=float, default=90.0, help="give up after this many seconds")
    parser.set_defaults(handler=_run_demo_command)


def _run_demo_command(args: argparse.Namespace) -> int:
    import os

    report = asyncio.run(
        run_demo(
            input_path=args.input,
            output_path=args.output,
            base_url=args.base_url,
            api_key=args.api_key or os.environ.get("OPENAI_API_KEY"),
            engines=args.engines,
            llm=args.llm,
            instructions=args.instructions,
            timeout_s=args.timeout,
        )
    )
    return 0 if report.answer_audio_ms > 0 and not report.errors else 1

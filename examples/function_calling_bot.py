"""A bot that calls a function: the spec's ``get_weather`` example, asked out loud.

    python examples/function_calling_bot.py                   # embedded local server, bundled question
    python examples/function_calling_bot.py --input weather_in_paris.wav
    python examples/function_calling_bot.py --engines test --text "weather in paris"

The tools are declared with ``FunctionSchema``/``ToolsSchema``; ``register_function`` connects the name to a
Python handler, which answers through ``result_callback``; the model then speaks the answer. With
``--text`` the question is sent as a user message instead of audio (handy with the test engines).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from voxpipe.adapters.schemas.function_schema import FunctionSchema
from voxpipe.adapters.schemas.tools_schema import ToolsSchema
from voxpipe.cli_options import add_realtime_options, realtime_target
from voxpipe.demo import bundled_question
from voxpipe.frames.frames import LLMFullResponseEndFrame, LLMMessagesAppendFrame, LLMTextFrame
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineTask
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor
from voxpipe.services.llm_service import FunctionCallParams
from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService, SessionProperties
from voxpipe.services.openai_realtime_beta.events import InputAudioTranscription
from voxpipe.transports.file import WavFileInputParams, WavFileInputTransport, WavFileOutputTransport

# Define weather function using standardized schema
weather_function = FunctionSchema(
    name="get_weather",
    description="Get weather information",
    properties={"location": {"type": "string"}},
    required=["location"],
)
# Create tools schema
tools = ToolsSchema(standard_tools=[weather_function])


async def fetch_weather_from_api(params: FunctionCallParams) -> None:
    """A stand-in for a weather API: always sunny."""
    place = params.arguments.get("location") or params.arguments.get("city") or "there"
    print(f"[get_weather called with {params.arguments}]")
    await params.result_callback({"location": place, "conditions": "sunny", "temperature_c": 22})


class PrintAnswers(FrameProcessor):
    """Prints the answers; notes when one that followed a function call is complete."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = 0
        self.done = asyncio.Event()

    async def process_frame(self, frame, direction: FrameDirection) -> None:
        if isinstance(frame, LLMTextFrame):
            print(frame.text, end="", flush=True)
        elif isinstance(frame, LLMFullResponseEndFrame):
            print()
            self.answers += 1
            self.done.set()
        await self.push_frame(frame, direction)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=None, help="a WAV question (default: bundled)")
    parser.add_argument("--text", default=None, help="ask this as text instead of audio")
    parser.add_argument("--output", type=Path, default=Path("weather-answer.wav"), help="the spoken answer")
    add_realtime_options(
        parser, instructions="You are a helpful assistant. Use get_weather for questions about weather."
    )
    return parser


async def main(args: argparse.Namespace) -> None:
    async with realtime_target(args, sys.stdout, label="example") as (url, api_key):
        # Configure service with tools
        llm = OpenAIRealtimeBetaLLMService(
            api_key=api_key,
            base_url=url,
            session_properties=SessionProperties(
                instructions=args.instructions,
                tools=tools,
                tool_choice="auto",
                input_audio_transcription=InputAudioTranscription(model="whisper-1"),
            ),
        )
        llm.register_function("get_weather", fetch_weather_from_api)
        printer = PrintAnswers()
        source = WavFileInputTransport(
            args.input or bundled_question(), WavFileInputParams(silence_tail_ms=30_000)
        )
        stages = [llm, printer, WavFileOutputTransport(args.output)]
        task = PipelineTask(Pipeline(stages if args.text else [source, *stages]))
        runner = asyncio.create_task(task.run())
        if args.text:
            await task.queue_frame(
                LLMMessagesAppendFrame(messages=[{"role": "user", "content": args.text}], run_llm=True)
            )
        await asyncio.wait_for(printer.done.wait(), timeout=90)
        await task.stop_when_done()
        await runner


if __name__ == "__main__":
    asyncio.run(main(build_parser().parse_args()))

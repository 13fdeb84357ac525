"""The spec's usage example, runnable: ``audio_input → OpenAIRealtimeBetaLLMService → audio_output``.

    python examples/realtime_beta_usage.py                    # the embedded local server, no key
    python examples/realtime_beta_usage.py --input my.wav     # your own question
    python examples/realtime_beta_usage.py --base-url wss://api.openai.com/v1/realtime   # $OPENAI_API_KEY

The service is configured exactly as the documentation's example (modalities, voice, server turn detection
with a 0.5 threshold and 800 ms of silence, temperature 0.7); the audio input is a WAV file played in real
time and the audio output writes the spoken answer to a WAV file.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from voxpipe.cli_options import add_realtime_options, realtime_target
from voxpipe.demo import bundled_question
from voxpipe.frames.frames import LLMFullResponseEndFrame, LLMTextFrame, TranscriptionFrame
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineTask
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor
from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService
from voxpipe.services.openai_realtime_beta.events import (
    InputAudioTranscription,
    SessionProperties,
    TurnDetection,
)
from voxpipe.transports.file import (
    WavFileInputParams,
    WavFileInputTransport,
    WavFileOutputTransport,
)


class PrintTurn(FrameProcessor):
    """Prints what was heard and answered; ends the run after the first answer."""

    def __init__(self) -> None:
        super().__init__()
        self.answered = asyncio.Event()

    async def process_frame(self, frame, direction: FrameDirection) -> None:
        if isinstance(frame, TranscriptionFrame):
            print(f"you said:     {frame.text}")
        elif isinstance(frame, LLMTextFrame):
            print(frame.text, end="", flush=True)
        elif isinstance(frame, LLMFullResponseEndFrame):
            print()
            self.answered.set()
        await self.push_frame(frame, direction)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=None, help="a WAV question (default: bundled)")
    parser.add_argument("--output", type=Path, default=Path("answer.wav"), help="where the answer goes")
    add_realtime_options(parser, instructions="You are a helpful assistant. Be concise and friendly.")
    return parser


async def main(args: argparse.Namespace) -> None:
    async with realtime_target(args, sys.stdout, label="example") as (url, api_key):
        # Configure service (the documentation's example)
        service = OpenAIRealtimeBetaLLMService(
            api_key=api_key,
            base_url=url,
            session_properties=SessionProperties(
                instructions=args.instructions,
                modalities=["audio", "text"],
                voice="alloy",
                input_audio_transcription=InputAudioTranscription(model="whisper-1"),
                turn_detection=TurnDetection(threshold=0.5, silence_duration_ms=800),
                temperature=0.7,
            ),
        )
        audio_input = WavFileInputTransport(
            args.input or bundled_question(), WavFileInputParams(silence_tail_ms=30_000)
        )  # Produces InputAudioRawFrame
        audio_output = WavFileOutputTransport(args.output)  # Handles TTSAudioRawFrame
        printer = PrintTurn()
        # Use in pipeline
        pipeline = Pipeline([audio_input, service, printer, audio_output])
        task = PipelineTask(pipeline)
        runner = asyncio.create_task(task.run())
        print("bot answered: ", end="")
        await asyncio.wait_for(printer.answered.wait(), timeout=90)
        await task.stop_when_done()
        await runner
        print(f"the spoken answer is in {args.output}")


if __name__ == "__main__":
    asyncio.run(main(build_parser().parse_args()))

"""A microphone bot: your microphone and speaker, Silero VAD in the pipeline, the server's turn detection off.

    python examples/microphone_bot.py             # embedded local server; use headphones
    python examples/microphone_bot.py --base-url wss://api.openai.com/v1/realtime   # $OPENAI_API_KEY

This is the spec's ``turn_detection=False`` mode: the local transport runs ``SileroVADAnalyzer`` on the
microphone and pushes ``UserStartedSpeakingFrame``/``UserStoppedSpeakingFrame``; on the user's end of speech
the service commits the audio and asks for the answer; speaking over the bot interrupts it (the answer is
cut where you stopped hearing it). Needs ``voxpipe[audio,vad]`` and PortAudio (``libportaudio2``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from voxpipe.audio.vad import VADParams
from voxpipe.cli_options import add_realtime_options, realtime_target
from voxpipe.observers.loggers.user_bot_latency_log_observer import UserBotLatencyLogObserver
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.runner import PipelineRunner
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.processors.transcript_processor import TranscriptProcessor
from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService
from voxpipe.services.openai_realtime_beta.events import InputAudioTranscription, SessionProperties


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stop-secs", type=float, default=0.6, help="silence that ends your turn")
    add_realtime_options(parser, instructions="You are a helpful assistant. Answer in one short sentence.")
    return parser


async def main(args: argparse.Namespace) -> int:
    from voxpipe.audio.vad.silero import SileroVADAnalyzer
    from voxpipe.transports.local.audio import LocalAudioTransport, LocalAudioTransportParams
    from voxpipe.transports.local.devices import AudioDeviceError, SoundDevices

    try:
        SoundDevices().check(input_device=None, output_device=None, need_input=True, need_output=True)
    except AudioDeviceError as exc:
        print(f"microphone_bot: {exc}", file=sys.stderr)
        return 2
    async with realtime_target(args, sys.stdout, label="example") as (url, api_key):
        transport = LocalAudioTransport(
            LocalAudioTransportParams(
                vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=args.stop_secs))
            )
        )
        service = OpenAIRealtimeBetaLLMService(
            api_key=api_key,
            base_url=url,
            session_properties=SessionProperties(
                instructions=args.instructions,
                input_audio_transcription=InputAudioTranscription(model="whisper-1"),
                turn_detection=False,
            ),
        )
        transcript = TranscriptProcessor()

        @transcript.event_handler("on_transcript_update")
        async def show(processor, frame) -> None:
            for message in frame.messages:
                print(f"{message.role}: {message.content}", flush=True)

        pipeline = Pipeline(
            [transport.input(), service, transcript.user(), transcript.assistant(), transport.output()]
        )
        task = PipelineTask(
            pipeline,
            params=PipelineParams(audio_in_sample_rate=16000, audio_out_sample_rate=24000),
            observers=[UserBotLatencyLogObserver()],
            idle_timeout_secs=None,
        )
        print("speak now (Ctrl-C to stop)", flush=True)
        await PipelineRunner().run(task)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    sys.exit(asyncio.run(main(build_parser().parse_args())))

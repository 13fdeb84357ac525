"""The documentation's code samples, with only ``pipecat`` renamed to ``voxpipe`` in the imports, run.

Each sample is kept as the spec prints it (``../shared/spec/000_70418225690b1461.txt``); the names it
leaves undefined (``audio_input``, ``fetch_weather_from_api``...) are provided around it.
"""

from __future__ import annotations

import asyncio
import os
import textwrap
from typing import Any

from voxpipe.frames.frames import InputAudioRawFrame, TTSAudioRawFrame
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineTask
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor
from voxpipe.testing import FakeRealtimeServer, expect, send

from .rig import audio_turn, pcm_tone

CONSTRUCTION = """
from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService
from voxpipe.services.openai_realtime_beta.events import SessionProperties
service = OpenAIRealtimeBetaLLMService(
api_key = os.getenv( "OPENAI_API_KEY" ),
session_properties = SessionProperties(
instructions = "You are a helpful assistant. Be concise and friendly."
)
)
"""

TRANSCRIPTION = """
from voxpipe.services.openai_realtime_beta.events import InputAudioTranscription
service = OpenAIRealtimeBetaLLMService(
api_key = os.getenv( "OPENAI_API_KEY" ),
session_properties = SessionProperties(
input_audio_transcription = InputAudioTranscription(
model = "gpt-4o-transcribe" ,
language = "en" ,
prompt = "This is a technical conversation about programming"
)
)
)
"""

USAGE = """
from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService
from voxpipe.services.openai_realtime_beta.events import SessionProperties, TurnDetection
# Configure service
service = OpenAIRealtimeBetaLLMService(
api_key = "your-api-key" ,
session_properties = SessionProperties(
modalities = [ "audio" , "text" ],
voice = "alloy" ,
turn_detection = TurnDetection(
threshold = 0.5 ,
silence_duration_ms = 800
),
temperature = 0.7
)
)
# Use in pipeline
pipeline = Pipeline([
audio_input, # Produces InputAudioRawFrame
service, # Processes speech/generates responses
audio_output # Handles TTSAudioRawFrame
])
"""

FUNCTIONS = """
from voxpipe.adapters.schemas.function_schema import FunctionSchema
from voxpipe.adapters.schemas.tools_schema import ToolsSchema
from voxpipe.services.openai_realtime_beta import SessionProperties
# Define weather function using standardized schema
weather_function = FunctionSchema(
name = "get_weather" ,
description = "Get weather information" ,
properties = {
"location" : { "type" : "string" }
},
required = [ "location" ]
)
# Create tools schema
tools = ToolsSchema( standard_tools = [weather_function])
# Configure service with tools
llm = OpenAIRealtimeBetaLLMService(
api_key = "your-api-key" ,
session_properties = SessionProperties(
tools = tools,
tool_choice = "auto"
)
)
llm.register_function( "get_weather" , fetch_weather_from_api)
"""

TURN_DETECTION = """
# Server-side basic VAD
turn_detection = TurnDetection(
type = "server_vad" ,
threshold = 0.5 ,
prefix_padding_ms = 300 ,
silence_duration_ms = 800
)
# Server-side semantic VAD
turn_detection = SemanticTurnDetection(
type = "semantic_vad" ,
eagerness = "auto" , # default. could also be "low" | "medium" | "high"
create_response = True, # default (the spec omits this comma, a syntax error; added here)
interrupt_response = True # default
)
# Disable turn detection
turn_detection = False
"""

CONTEXT = """
# Create context
context = OpenAIRealtimeLLMContext(
messages = [],
tools = [],
system = "You are a helpful assistant"
)
# Create aggregators
aggregators = service.create_context_aggregator(context)
"""


class Source(FrameProcessor):
    """Stands for ``audio_input``: produces InputAudioRawFrames."""

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        await self.push_frame(frame, direction)


class Sink(FrameProcessor):
    """Stands for ``audio_output``: receives TTSAudioRawFrames."""

    def __init__(self) -> None:
        super().__init__()
        self.audio: list[TTSAudioRawFrame] = []

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        if isinstance(frame, TTSAudioRawFrame):
            self.audio.append(frame)
        await self.push_frame(frame, direction)


def run_sample(code: str, namespace: dict[str, Any]) -> dict[str, Any]:
    exec(textwrap.dedent(code), namespace)
    return namespace


def test_construction_and_transcription_samples() -> None:
    ns = run_sample(CONSTRUCTION, {"os": os})
    assert ns["service"].session_properties.instructions.startswith("You are a helpful assistant")
    ns = run_sample(TRANSCRIPTION, ns)
    transcription = ns["service"].session_properties.input_audio_transcription
    assert (transcription.model, transcription.language) == ("gpt-4o-transcribe", "en")


def test_turn_detection_and_context_samples() -> None:
    from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService, OpenAIRealtimeLLMContext
    from voxpipe.services.openai_realtime_beta.events import SemanticTurnDetection, TurnDetection

    ns = run_sample(
        TURN_DETECTION, {"TurnDetection": TurnDetection, "SemanticTurnDetection": SemanticTurnDetection}
    )
    assert ns["turn_detection"] is False
    ns = run_sample(
        CONTEXT,
        {
            "OpenAIRealtimeLLMContext": OpenAIRealtimeLLMContext,
            "service": OpenAIRealtimeBetaLLMService(api_key="k"),
        },
    )
    assert ns["context"].system == "You are a helpful assistant"
    assert ns["aggregators"].user() is not None and ns["aggregators"].assistant() is not None


def test_function_calling_sample_registers_the_handler() -> None:
    from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService

    async def fetch_weather_from_api(params: Any) -> None:
        await params.result_callback({"conditions": "sunny"})

    ns = run_sample(
        FUNCTIONS,
        {
            "OpenAIRealtimeBetaLLMService": OpenAIRealtimeBetaLLMService,
            "fetch_weather_from_api": fetch_weather_from_api,
        },
    )
    assert ns["llm"].has_function("get_weather")


async def test_usage_sample_pipeline_speaks() -> None:
    script = [
        expect(
            "session.update", session={"modalities": ["audio", "text"], "voice": "alloy", "temperature": 0.7}
        ),
        *map(send, audio_turn(chunks=2)),
    ]
    async with FakeRealtimeServer(
        script, auto_session_updated=True, ignore=["input_audio_buffer.append"]
    ) as server:
        audio_input, audio_output = Source(), Sink()
        ns = run_sample(
            USAGE, {"Pipeline": Pipeline, "audio_input": audio_input, "audio_output": audio_output}
        )
        ns["service"]._base_url = server.url  # the sample targets OpenAI; point it at the loopback server
        task = PipelineTask(ns["pipeline"])
        runner = asyncio.create_task(task.run())
        await task.queue_frame(InputAudioRawFrame(audio=pcm_tone(20, 16000), sample_rate=16000))
        async with asyncio.timeout(5):
            while len(audio_output.audio) < 2:
                await asyncio.sleep(0.01)
        await task.stop_when_done()
        await runner
    assert {f.sample_rate for f in audio_output.audio} == {24000}

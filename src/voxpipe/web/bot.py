"""The bot each visitor of ``voxpipe web`` talks to: one pipeline per browser, gone when they leave.

::

    microphone ─► input() ─► OpenAIRealtimeBetaLLMService ─► PageEventsProcessor ─► output() ─► speaker
                                        │                           │
                               the Realtime server       transcripts, turns, latency ─► the page

Turns are decided by the realtime server's VAD by default (``server_vad``, 500 ms of silence: the local
server prepares the answer during that silence), or by Silero in this process (``vad="pipeline"``, the
session's turn detection off), the spec's ``turn_detection=False`` mode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voxpipe.observers.user_bot_latency_observer import UserBotLatencyObserver
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.processors.frame_processor import FrameProcessor
from voxpipe.web.page_events import PageEventsProcessor, SendMessage

__all__ = ["BotSettings", "BotTaskFactory", "make_bot_task", "make_service"]

logger = logging.getLogger(__name__)

DEFAULT_INSTRUCTIONS = (
    "You are a friendly voice assistant talking to a visitor of a web page. "
    "Answer in one or two short spoken sentences."
)


@dataclass(kw_only=True)
class BotSettings:
    """What every visitor's bot shares.

    Attributes:
        realtime_url: the Realtime server's WebSocket URL.
        api_key: its key (the embedded server needs none).
        instructions: the bot's instructions.
        voice: the voice of the answers.
        vad: ``"server"`` (the realtime server decides turns) or ``"pipeline"`` (Silero in this process).
    """

    realtime_url: str
    api_key: str = "voxpipe-local"
    instructions: str = DEFAULT_INSTRUCTIONS
    voice: str = "alloy"
    vad: str = "server"


BotTaskFactory = Callable[[BotSettings, FrameProcessor, FrameProcessor, SendMessage], PipelineTask]
"""Builds one visitor's task: ``factory(settings, audio_in, audio_out, send) -> PipelineTask``."""


def make_service(settings: BotSettings) -> Any:
    """The realtime service for one visitor."""
    from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService
    from voxpipe.services.openai_realtime_beta.events import (
        InputAudioTranscription,
        SessionProperties,
        TurnDetection,
    )

    turn_detection: TurnDetection | bool = (
        TurnDetection(silence_duration_ms=500) if settings.vad == "server" else False
    )
    return OpenAIRealtimeBetaLLMService(
        api_key=settings.api_key,
        base_url=settings.realtime_url,
        session_properties=SessionProperties(
            instructions=settings.instructions,
            voice=settings.voice,
            input_audio_transcription=InputAudioTranscription(model="whisper-1", language="en"),
            turn_detection=turn_detection,
        ),
    )


def make_bot_task(
    settings: BotSettings, audio_in: FrameProcessor, audio_out: FrameProcessor, send: SendMessage
) -> PipelineTask:
    """The pipeline task of one visitor's bot: ``audio_in → service → page events → audio_out``.

    Each turn's latency (the user's end of speech to the bot's first audio, as this process sees them)
    goes to the page as ``{"type": "turn.latency", "turn": n, "ms": ...}``.
    """
    latency = UserBotLatencyObserver()

    def report(_observer: UserBotLatencyObserver, latency_s: float) -> None:
        turn = len(latency.latencies)
        logger.info("visitor turn %d: user stopped -> bot started %.0f ms", turn, latency_s * 1000)
        send({"type": "turn.latency", "turn": turn, "ms": round(latency_s * 1000)})

    latency.add_event_handler("on_latency_measured", report)
    pipeline = Pipeline([audio_in, make_service(settings), PageEventsProcessor(send), audio_out])
    task = PipelineTask(
        pipeline,
        params=PipelineParams(enable_metrics=True, audio_in_sample_rate=16000, audio_out_sample_rate=24000),
        observers=[latency],
        idle_timeout_secs=None,
    )
    # errors travel upstream to the task, past the page-events processor: tell the page from here
    task.add_event_handler(
        "on_pipeline_error",
        lambda _task, frame: send({"type": "error", "message": frame.error, "fatal": frame.fatal}),
    )
    return task

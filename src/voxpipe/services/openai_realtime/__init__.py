"""The OpenAI Realtime speech-to-speech service on the GA protocol (``gpt-realtime``).

from voxpipe.services.openai_realtime import OpenAIRealtimeLLMService, SessionProperties
"""

from voxpipe.services.openai_realtime.azure import AzureRealtimeLLMService
from voxpipe.services.openai_realtime.llm import OpenAIRealtimeLLMService
from voxpipe.services.openai_realtime_beta.context import OpenAIRealtimeLLMContext
from voxpipe.services.openai_realtime_beta.events import (
    InputAudioNoiseReduction,
    InputAudioTranscription,
    SemanticTurnDetection,
    SessionProperties,
    TurnDetection,
)

__all__ = [
    "AzureRealtimeLLMService",
    "InputAudioNoiseReduction",
    "InputAudioTranscription",
    "OpenAIRealtimeLLMContext",
    "OpenAIRealtimeLLMService",
    "SemanticTurnDetection",
    "SessionProperties",
    "TurnDetection",
]

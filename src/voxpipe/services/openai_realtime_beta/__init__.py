"""The OpenAI Realtime (beta protocol) speech-to-speech service.

from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService, SessionProperties
"""

from voxpipe.services.openai_realtime_beta.azure import AzureRealtimeBetaLLMService
from voxpipe.services.openai_realtime_beta.context import OpenAIRealtimeLLMContext
from voxpipe.services.openai_realtime_beta.events import (
    InputAudioNoiseReduction,
    InputAudioTranscription,
    SemanticTurnDetection,
    SessionProperties,
    TurnDetection,
)
from voxpipe.services.openai_realtime_beta.openai import OpenAIRealtimeBetaLLMService

__all__ = [
    "AzureRealtimeBetaLLMService",
    "InputAudioNoiseReduction",
    "InputAudioTranscription",
    "OpenAIRealtimeBetaLLMService",
    "OpenAIRealtimeLLMContext",
    "SemanticTurnDetection",
    "SessionProperties",
    "TurnDetection",
]

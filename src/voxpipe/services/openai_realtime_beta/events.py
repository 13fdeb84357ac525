"""Session settings and protocol types for the realtime service, under the import path users know.

``from voxpipe.services.openai_realtime_beta.events import SessionProperties, TurnDetection`` gives the
same classes as :mod:`voxpipe.realtime`; they are defined there, once, for clients and server alike.
"""

from voxpipe.realtime import (
    ConversationItem,
    ErrorEvent,
    FunctionTool,
    InputAudioNoiseReduction,
    InputAudioTranscription,
    ItemContent,
    SemanticTurnDetection,
    ServerEvent,
    Session,
    SessionProperties,
    TurnDetection,
    parse_server_event,
)

__all__ = [
    "ConversationItem",
    "ErrorEvent",
    "FunctionTool",
    "InputAudioNoiseReduction",
    "InputAudioTranscription",
    "ItemContent",
    "SemanticTurnDetection",
    "ServerEvent",
    "Session",
    "SessionProperties",
    "TurnDetection",
    "parse_server_event",
]

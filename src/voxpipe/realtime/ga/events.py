"""The GA event unions and ``type`` tables. Events whose wire shape did not change are the beta classes."""

from typing import Annotated, TypeAlias

from pydantic import Field

from voxpipe.realtime._base import EventBase
from voxpipe.realtime._unknown import UnknownClientEvent, UnknownServerEvent
from voxpipe.realtime.beta import conversation as beta_conversation
from voxpipe.realtime.beta import input_audio_buffer as beta_buffer
from voxpipe.realtime.beta import output_audio_buffer as beta_output
from voxpipe.realtime.beta import response as beta_response
from voxpipe.realtime.beta.errors import ErrorEvent
from voxpipe.realtime.beta.events import event_table
from voxpipe.realtime.ga import conversation, input_audio_buffer, mcp, response, session

__all__ = [
    "CLIENT_EVENT_TYPES",
    "SERVER_EVENT_TYPES",
    "ClientEvent",
    "KnownClientEvent",
    "KnownServerEvent",
    "ServerEvent",
]

KnownClientEvent: TypeAlias = Annotated[
    session.SessionUpdateEvent
    | beta_buffer.InputAudioBufferAppendEvent
    | beta_buffer.InputAudioBufferCommitEvent
    | beta_buffer.InputAudioBufferClearEvent
    | conversation.ConversationItemCreateEvent
    | beta_conversation.ConversationItemRetrieveEvent
    | beta_conversation.ConversationItemTruncateEvent
    | beta_conversation.ConversationItemDeleteEvent
    | response.ResponseCreateEvent
    | beta_response.ResponseCancelEvent
    | beta_output.OutputAudioBufferClearEvent,
    Field(discriminator="type"),
]
"""Every GA client event, discriminated on ``type``."""

KnownServerEvent: TypeAlias = Annotated[
    ErrorEvent
    | session.SessionCreatedEvent
    | session.SessionUpdatedEvent
    | beta_conversation.ConversationCreatedEvent
    | conversation.ConversationItemCreatedEvent
    | conversation.ConversationItemAddedEvent
    | conversation.ConversationItemDoneEvent
    | conversation.ConversationItemRetrievedEvent
    | beta_conversation.ConversationItemTruncatedEvent
    | beta_conversation.ConversationItemDeletedEvent
    | beta_conversation.ConversationItemInputAudioTranscriptionDeltaEvent
    | beta_conversation.ConversationItemInputAudioTranscriptionCompletedEvent
    | beta_conversation.ConversationItemInputAudioTranscriptionFailedEvent
    | conversation.ConversationItemInputAudioTranscriptionSegmentEvent
    | beta_buffer.InputAudioBufferCommittedEvent
    | beta_buffer.InputAudioBufferClearedEvent
    | beta_buffer.InputAudioBufferSpeechStartedEvent
    | beta_buffer.InputAudioBufferSpeechStoppedEvent
    | input_audio_buffer.InputAudioBufferTimeoutTriggeredEvent
    | input_audio_buffer.InputAudioBufferDtmfEventReceivedEvent
    | response.ResponseCreatedEvent
    | response.ResponseDoneEvent
    | response.ResponseOutputItemAddedEvent
    | response.ResponseOutputItemDoneEvent
    | beta_response.ResponseContentPartAddedEvent
    | beta_response.ResponseContentPartDoneEvent
    | response.ResponseOutputTextDeltaEvent
    | response.ResponseOutputTextDoneEvent
    | response.ResponseOutputAudioTranscriptDeltaEvent
    | response.ResponseOutputAudioTranscriptDoneEvent
    | response.ResponseOutputAudioDeltaEvent
    | response.ResponseOutputAudioDoneEvent
    | beta_response.ResponseFunctionCallArgumentsDeltaEvent
    | beta_response.ResponseFunctionCallArgumentsDoneEvent
    | beta_response.RateLimitsUpdatedEvent
    | beta_output.OutputAudioBufferStartedEvent
    | beta_output.OutputAudioBufferStoppedEvent
    | beta_output.OutputAudioBufferClearedEvent
    | mcp.McpListToolsInProgressEvent
    | mcp.McpListToolsCompletedEvent
    | mcp.McpListToolsFailedEvent
    | mcp.ResponseMcpCallArgumentsDeltaEvent
    | mcp.ResponseMcpCallArgumentsDoneEvent
    | mcp.ResponseMcpCallInProgressEvent
    | mcp.ResponseMcpCallCompletedEvent
    | mcp.ResponseMcpCallFailedEvent,
    Field(discriminator="type"),
]
"""Every GA server event, discriminated on ``type``."""

ClientEvent: TypeAlias = KnownClientEvent | UnknownClientEvent
"""What :func:`~voxpipe.realtime.parse_client_event` returns for ``shape="ga"``."""

ServerEvent: TypeAlias = KnownServerEvent | UnknownServerEvent
"""What :func:`~voxpipe.realtime.parse_server_event` returns for ``shape="ga"``."""

CLIENT_EVENT_TYPES: dict[str, type[EventBase]] = event_table(KnownClientEvent)
"""GA client event ``type`` → model."""

SERVER_EVENT_TYPES: dict[str, type[EventBase]] = event_table(KnownServerEvent)
"""GA server event ``type`` → model."""

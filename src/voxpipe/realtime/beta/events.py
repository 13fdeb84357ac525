"""The beta event unions and the ``type`` → model tables the parser dispatches on."""

from typing import Annotated, Any, TypeAlias, get_args

from pydantic import Field

from voxpipe.realtime._base import EventBase
from voxpipe.realtime._unknown import UnknownClientEvent, UnknownServerEvent
from voxpipe.realtime.beta.conversation import (
    ConversationCreatedEvent,
    ConversationItemCreatedEvent,
    ConversationItemCreateEvent,
    ConversationItemDeletedEvent,
    ConversationItemDeleteEvent,
    ConversationItemInputAudioTranscriptionCompletedEvent,
    ConversationItemInputAudioTranscriptionDeltaEvent,
    ConversationItemInputAudioTranscriptionFailedEvent,
    ConversationItemRetrievedEvent,
    ConversationItemRetrieveEvent,
    ConversationItemTruncatedEvent,
    ConversationItemTruncateEvent,
)
from voxpipe.realtime.beta.errors import ErrorEvent
from voxpipe.realtime.beta.input_audio_buffer import (
    InputAudioBufferAppendEvent,
    InputAudioBufferClearedEvent,
    InputAudioBufferClearEvent,
    InputAudioBufferCommitEvent,
    InputAudioBufferCommittedEvent,
    InputAudioBufferSpeechStartedEvent,
    InputAudioBufferSpeechStoppedEvent,
)
from voxpipe.realtime.beta.output_audio_buffer import (
    OutputAudioBufferClearedEvent,
    OutputAudioBufferClearEvent,
    OutputAudioBufferStartedEvent,
    OutputAudioBufferStoppedEvent,
)
from voxpipe.realtime.beta.response import (
    RateLimitsUpdatedEvent,
    ResponseAudioDeltaEvent,
    ResponseAudioDoneEvent,
    ResponseAudioTranscriptDeltaEvent,
    ResponseAudioTranscriptDoneEvent,
    ResponseCancelEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseCreateEvent,
    ResponseDoneEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
)
from voxpipe.realtime.beta.session import (
    SessionCreatedEvent,
    SessionUpdatedEvent,
    SessionUpdateEvent,
    TranscriptionSessionUpdatedEvent,
    TranscriptionSessionUpdateEvent,
)

__all__ = [
    "CLIENT_EVENT_TYPES",
    "SERVER_EVENT_TYPES",
    "ClientEvent",
    "KnownClientEvent",
    "KnownServerEvent",
    "ServerEvent",
]

KnownClientEvent: TypeAlias = Annotated[
    SessionUpdateEvent
    | InputAudioBufferAppendEvent
    | InputAudioBufferCommitEvent
    | InputAudioBufferClearEvent
    | ConversationItemCreateEvent
    | ConversationItemRetrieveEvent
    | ConversationItemTruncateEvent
    | ConversationItemDeleteEvent
    | ResponseCreateEvent
    | ResponseCancelEvent
    | OutputAudioBufferClearEvent
    | TranscriptionSessionUpdateEvent,
    Field(discriminator="type"),
]
"""Every beta client event, discriminated on ``type``."""

KnownServerEvent: TypeAlias = Annotated[
    ErrorEvent
    | SessionCreatedEvent
    | SessionUpdatedEvent
    | TranscriptionSessionUpdatedEvent
    | ConversationCreatedEvent
    | ConversationItemCreatedEvent
    | ConversationItemRetrievedEvent
    | ConversationItemTruncatedEvent
    | ConversationItemDeletedEvent
    | ConversationItemInputAudioTranscriptionDeltaEvent
    | ConversationItemInputAudioTranscriptionCompletedEvent
    | ConversationItemInputAudioTranscriptionFailedEvent
    | InputAudioBufferCommittedEvent
    | InputAudioBufferClearedEvent
    | InputAudioBufferSpeechStartedEvent
    | InputAudioBufferSpeechStoppedEvent
    | ResponseCreatedEvent
    | ResponseDoneEvent
    | ResponseOutputItemAddedEvent
    | ResponseOutputItemDoneEvent
    | ResponseContentPartAddedEvent
    | ResponseContentPartDoneEvent
    | ResponseTextDeltaEvent
    | ResponseTextDoneEvent
    | ResponseAudioTranscriptDeltaEvent
    | ResponseAudioTranscriptDoneEvent
    | ResponseAudioDeltaEvent
    | ResponseAudioDoneEvent
    | ResponseFunctionCallArgumentsDeltaEvent
    | ResponseFunctionCallArgumentsDoneEvent
    | RateLimitsUpdatedEvent
    | OutputAudioBufferStartedEvent
    | OutputAudioBufferStoppedEvent
    | OutputAudioBufferClearedEvent,
    Field(discriminator="type"),
]
"""Every beta server event, discriminated on ``type``."""

ClientEvent: TypeAlias = KnownClientEvent | UnknownClientEvent
"""What :func:`~voxpipe.realtime.parse_client_event` returns for the beta shape."""

ServerEvent: TypeAlias = KnownServerEvent | UnknownServerEvent
"""What :func:`~voxpipe.realtime.parse_server_event` returns for the beta shape."""


def event_table(union: Any) -> dict[str, type[EventBase]]:
    """Map each ``type`` literal of a discriminated union to its model class."""
    members = get_args(get_args(union)[0])
    table: dict[str, type[EventBase]] = {}
    for cls in members:
        (literal,) = get_args(cls.model_fields["type"].annotation)
        table[literal] = cls
    return table


CLIENT_EVENT_TYPES: dict[str, type[EventBase]] = event_table(KnownClientEvent)
"""Beta client event ``type`` → model."""

SERVER_EVENT_TYPES: dict[str, type[EventBase]] = event_table(KnownServerEvent)
"""Beta server event ``type`` → model."""

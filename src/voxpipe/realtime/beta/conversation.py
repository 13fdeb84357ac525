"""``conversation.*`` events (beta): items created, read, cut and deleted, and input transcription."""

from typing import Literal

from voxpipe.realtime._base import ClientEventBase, ProtocolModel, ServerEventBase
from voxpipe.realtime.beta.items import ConversationItem

__all__ = [
    "Conversation",
    "ConversationCreatedEvent",
    "ConversationItemCreateEvent",
    "ConversationItemCreatedEvent",
    "ConversationItemDeleteEvent",
    "ConversationItemDeletedEvent",
    "ConversationItemInputAudioTranscriptionCompletedEvent",
    "ConversationItemInputAudioTranscriptionDeltaEvent",
    "ConversationItemInputAudioTranscriptionFailedEvent",
    "ConversationItemRetrieveEvent",
    "ConversationItemRetrievedEvent",
    "ConversationItemTruncateEvent",
    "ConversationItemTruncatedEvent",
    "LogProb",
    "TranscriptionError",
    "TranscriptionUsage",
]


class Conversation(ProtocolModel):
    """The conversation object of ``conversation.created``."""

    id: str | None = None
    """Conversation id, ``conv_…``."""
    object: Literal["realtime.conversation"] | None = None
    """Always ``realtime.conversation``."""


class LogProb(ProtocolModel):
    """Log probability of one transcribed token."""

    token: str
    """The token."""
    logprob: float
    """Its log probability."""
    bytes: list[int]
    """The token's UTF-8 bytes."""


class TranscriptionUsage(ProtocolModel):
    """Usage of an input transcription: ``type`` ``tokens`` (token counts) or ``duration`` (seconds)."""

    type: Literal["tokens", "duration"]
    """Which of the two forms this is."""
    input_tokens: int | None = None
    """Input tokens (``tokens`` form)."""
    output_tokens: int | None = None
    """Output tokens (``tokens`` form)."""
    total_tokens: int | None = None
    """Total tokens (``tokens`` form)."""
    input_token_details: dict[str, int] | None = None
    """``{"text_tokens": …, "audio_tokens": …}`` (``tokens`` form)."""
    seconds: float | None = None
    """Audio duration billed (``duration`` form)."""


class TranscriptionError(ProtocolModel):
    """Why an input transcription failed."""

    type: str | None = None
    """Error class, e.g. ``transcription_error``."""
    code: str | None = None
    """Error code, e.g. ``audio_unintelligible``."""
    message: str | None = None
    """Readable description."""
    param: str | None = None
    """Offending parameter, if any."""


class ConversationItemCreateEvent(ClientEventBase):
    """``conversation.item.create``: add a message, function call or function call output."""

    type: Literal["conversation.item.create"] = "conversation.item.create"
    item: ConversationItem
    """The item; assistant *audio* messages cannot be created."""
    previous_item_id: str | None = None
    """Insert after this item; omitted appends, ``"root"`` inserts first."""


class ConversationItemRetrieveEvent(ClientEventBase):
    """``conversation.item.retrieve``: ask for a full item (with audio)."""

    type: Literal["conversation.item.retrieve"] = "conversation.item.retrieve"
    item_id: str
    """The item to retrieve."""


class ConversationItemTruncateEvent(ClientEventBase):
    """``conversation.item.truncate``: cut an assistant audio item at what was actually played."""

    type: Literal["conversation.item.truncate"] = "conversation.item.truncate"
    item_id: str
    """The assistant message item."""
    content_index: int
    """Content part to truncate (0)."""
    audio_end_ms: int
    """Keep audio up to here (inclusive); must not exceed the audio generated."""


class ConversationItemDeleteEvent(ClientEventBase):
    """``conversation.item.delete``: remove an item from the conversation."""

    type: Literal["conversation.item.delete"] = "conversation.item.delete"
    item_id: str
    """The item to delete."""


class ConversationCreatedEvent(ServerEventBase):
    """``conversation.created``: documented right after ``session.created``; may never come."""

    type: Literal["conversation.created"] = "conversation.created"
    conversation: Conversation
    """The conversation."""


class ConversationItemCreatedEvent(ServerEventBase):
    """``conversation.item.created``: an item was added (client create, buffer commit, or response)."""

    type: Literal["conversation.item.created"] = "conversation.item.created"
    item: ConversationItem
    """The item (a response's items are still empty here)."""
    previous_item_id: str | None = None
    """The item before it; ``None`` when first."""


class ConversationItemRetrievedEvent(ServerEventBase):
    """``conversation.item.retrieved``: answer to retrieve, with base64 audio."""

    type: Literal["conversation.item.retrieved"] = "conversation.item.retrieved"
    item: ConversationItem
    """The full item."""


class ConversationItemTruncatedEvent(ServerEventBase):
    """``conversation.item.truncated``: answer to truncate; the text transcript is dropped."""

    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"
    item_id: str
    """The truncated item."""
    content_index: int
    """The truncated content part."""
    audio_end_ms: int
    """Where the audio now ends."""


class ConversationItemDeletedEvent(ServerEventBase):
    """``conversation.item.deleted``: answer to delete."""

    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"
    item_id: str
    """The deleted item."""


class ConversationItemInputAudioTranscriptionDeltaEvent(ServerEventBase):
    """``conversation.item.input_audio_transcription.delta``: part of the user's transcript."""

    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta"
    )
    item_id: str
    """The user item being transcribed."""
    content_index: int | None = None
    """Its audio content part."""
    delta: str | None = None
    """New transcript text."""
    logprobs: list[LogProb] | None = None
    """Token log probabilities, when requested with ``include``."""


class ConversationItemInputAudioTranscriptionCompletedEvent(ServerEventBase):
    """``conversation.item.input_audio_transcription.completed``: the final user transcript.

    Arrives asynchronously, possibly after the response to that speech has finished.
    """

    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    item_id: str
    """The user item."""
    content_index: int
    """Its audio content part."""
    transcript: str
    """The full transcript."""
    usage: TranscriptionUsage | None = None
    """Transcription usage (required by the SDK since 1.95; 2024 servers did not send it)."""
    logprobs: list[LogProb] | None = None
    """Token log probabilities, when requested with ``include``."""


class ConversationItemInputAudioTranscriptionFailedEvent(ServerEventBase):
    """``conversation.item.input_audio_transcription.failed``: transcription of a user item failed."""

    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed"
    )
    item_id: str
    """The user item."""
    content_index: int
    """Its audio content part."""
    error: TranscriptionError
    """What went wrong."""

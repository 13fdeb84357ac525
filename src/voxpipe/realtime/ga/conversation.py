"""GA ``conversation.*`` events whose shape differs from beta (GA items), plus GA-only ones.

``conversation.item.retrieve/truncate/delete``, ``.truncated``, ``.deleted``, ``conversation.created``
and the transcription ``delta``/``completed``/``failed`` events are identical to beta and reused.
"""

from typing import Literal

from voxpipe.realtime._base import ClientEventBase, ServerEventBase
from voxpipe.realtime.ga.items import ConversationItem

__all__ = [
    "ConversationItemAddedEvent",
    "ConversationItemCreateEvent",
    "ConversationItemCreatedEvent",
    "ConversationItemDoneEvent",
    "ConversationItemInputAudioTranscriptionSegmentEvent",
    "ConversationItemRetrievedEvent",
]


class ConversationItemCreateEvent(ClientEventBase):
    """``conversation.item.create`` (GA): add an item."""

    type: Literal["conversation.item.create"] = "conversation.item.create"
    item: ConversationItem
    """The item."""
    previous_item_id: str | None = None
    """Insert after this item; omitted appends, ``"root"`` inserts first."""


class ConversationItemCreatedEvent(ServerEventBase):
    """``conversation.item.created`` (GA): still in the SDK union; GA servers send ``added``/``done``."""

    type: Literal["conversation.item.created"] = "conversation.item.created"
    item: ConversationItem
    """The item."""
    previous_item_id: str | None = None
    """The item before it."""


class ConversationItemAddedEvent(ServerEventBase):
    """``conversation.item.added``: an item joined the conversation (may still be filling in)."""

    type: Literal["conversation.item.added"] = "conversation.item.added"
    item: ConversationItem
    """The item."""
    previous_item_id: str | None = None
    """The item before it."""


class ConversationItemDoneEvent(ServerEventBase):
    """``conversation.item.done``: an item is complete."""

    type: Literal["conversation.item.done"] = "conversation.item.done"
    item: ConversationItem
    """The final item."""
    previous_item_id: str | None = None
    """The item before it."""


class ConversationItemRetrievedEvent(ServerEventBase):
    """``conversation.item.retrieved`` (GA): answer to retrieve."""

    type: Literal["conversation.item.retrieved"] = "conversation.item.retrieved"
    item: ConversationItem
    """The full item."""


class ConversationItemInputAudioTranscriptionSegmentEvent(ServerEventBase):
    """``conversation.item.input_audio_transcription.segment``: a diarized transcript segment."""

    type: Literal["conversation.item.input_audio_transcription.segment"] = (
        "conversation.item.input_audio_transcription.segment"
    )
    item_id: str
    """The user item."""
    content_index: int
    """Its audio content part."""
    id: str
    """Segment id."""
    text: str
    """Segment text."""
    speaker: str
    """Speaker label."""
    start: float
    """Start time in seconds."""
    end: float
    """End time in seconds."""

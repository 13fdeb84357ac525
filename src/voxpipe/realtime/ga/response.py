"""GA ``response.*`` events whose names or shapes differ from beta.

Renamed streams: ``response.output_text.*``, ``response.output_audio.*``,
``response.output_audio_transcript.*``. Deltas carry an ``obfuscation`` string. The content-part,
function-call-argument and cancel events are the beta classes.
"""

from typing import Literal

from voxpipe.realtime._base import ClientEventBase, ContentEventBase, ServerEventBase
from voxpipe.realtime.ga.items import ConversationItem, Response, ResponseProperties

__all__ = [
    "ResponseCreateEvent",
    "ResponseCreatedEvent",
    "ResponseDoneEvent",
    "ResponseOutputAudioDeltaEvent",
    "ResponseOutputAudioDoneEvent",
    "ResponseOutputAudioTranscriptDeltaEvent",
    "ResponseOutputAudioTranscriptDoneEvent",
    "ResponseOutputItemAddedEvent",
    "ResponseOutputItemDoneEvent",
    "ResponseOutputTextDeltaEvent",
    "ResponseOutputTextDoneEvent",
]


class ResponseCreateEvent(ClientEventBase):
    """``response.create`` (GA)."""

    type: Literal["response.create"] = "response.create"
    response: ResponseProperties | None = None
    """Overrides for this response only."""


class ResponseCreatedEvent(ServerEventBase):
    """``response.created`` (GA)."""

    type: Literal["response.created"] = "response.created"
    response: Response
    """The new response."""


class ResponseDoneEvent(ServerEventBase):
    """``response.done`` (GA): last event of a response, with ``usage``."""

    type: Literal["response.done"] = "response.done"
    response: Response
    """The final response."""


class ResponseOutputItemAddedEvent(ServerEventBase):
    """``response.output_item.added`` (GA)."""

    type: Literal["response.output_item.added"] = "response.output_item.added"
    response_id: str
    """The response."""
    output_index: int
    """Index of the item in the response's output."""
    item: ConversationItem
    """The new, empty item."""


class ResponseOutputItemDoneEvent(ServerEventBase):
    """``response.output_item.done`` (GA)."""

    type: Literal["response.output_item.done"] = "response.output_item.done"
    response_id: str
    """The response."""
    output_index: int
    """Index of the item in the response's output."""
    item: ConversationItem
    """The finished item."""


class _GADeltaEvent(ContentEventBase):
    delta: str
    """New text, transcript or base64 audio."""
    obfuscation: str | None = None
    """Random padding that hides the delta's length (GA servers)."""


class ResponseOutputTextDeltaEvent(_GADeltaEvent):
    """``response.output_text.delta``: more text."""

    type: Literal["response.output_text.delta"] = "response.output_text.delta"


class ResponseOutputTextDoneEvent(ContentEventBase):
    """``response.output_text.done``: the text is complete."""

    type: Literal["response.output_text.done"] = "response.output_text.done"
    text: str
    """The full text."""


class ResponseOutputAudioTranscriptDeltaEvent(_GADeltaEvent):
    """``response.output_audio_transcript.delta``: more transcript of the audio."""

    type: Literal["response.output_audio_transcript.delta"] = "response.output_audio_transcript.delta"


class ResponseOutputAudioTranscriptDoneEvent(ContentEventBase):
    """``response.output_audio_transcript.done``: the transcript is complete."""

    type: Literal["response.output_audio_transcript.done"] = "response.output_audio_transcript.done"
    transcript: str
    """The full transcript."""


class ResponseOutputAudioDeltaEvent(_GADeltaEvent):
    """``response.output_audio.delta``: a chunk of base64 audio."""

    type: Literal["response.output_audio.delta"] = "response.output_audio.delta"


class ResponseOutputAudioDoneEvent(ContentEventBase):
    """``response.output_audio.done``: the audio is complete."""

    type: Literal["response.output_audio.done"] = "response.output_audio.done"

"""``response.*`` and ``rate_limits.updated`` events (beta).

The streaming events (``*.delta``) are the hot path: one audio delta every ~50 ms. They are flat
models of strings and ints so that validating one costs little more than parsing its JSON.
"""

from typing import Literal

from voxpipe.realtime._base import ClientEventBase, ContentEventBase, ProtocolModel, ServerEventBase
from voxpipe.realtime.beta.items import ConversationItem, Response, ResponseProperties

__all__ = [
    "ContentPart",
    "RateLimit",
    "RateLimitsUpdatedEvent",
    "ResponseAudioDeltaEvent",
    "ResponseAudioDoneEvent",
    "ResponseAudioTranscriptDeltaEvent",
    "ResponseAudioTranscriptDoneEvent",
    "ResponseCancelEvent",
    "ResponseContentPartAddedEvent",
    "ResponseContentPartDoneEvent",
    "ResponseCreateEvent",
    "ResponseCreatedEvent",
    "ResponseDoneEvent",
    "ResponseFunctionCallArgumentsDeltaEvent",
    "ResponseFunctionCallArgumentsDoneEvent",
    "ResponseOutputItemAddedEvent",
    "ResponseOutputItemDoneEvent",
    "ResponseTextDeltaEvent",
    "ResponseTextDoneEvent",
]


class ResponseCreateEvent(ClientEventBase):
    """``response.create``: ask the model to answer (needed when turn detection is off)."""

    type: Literal["response.create"] = "response.create"
    response: ResponseProperties | None = None
    """Overrides for this response only."""


class ResponseCancelEvent(ClientEventBase):
    """``response.cancel``: stop a response; answered by ``response.done`` with ``cancelled``."""

    type: Literal["response.cancel"] = "response.cancel"
    response_id: str | None = None
    """Response to cancel; default: the one writing to the default conversation."""


class ResponseCreatedEvent(ServerEventBase):
    """``response.created``: first event of a response (status ``in_progress``)."""

    type: Literal["response.created"] = "response.created"
    response: Response
    """The new response."""


class ResponseDoneEvent(ServerEventBase):
    """``response.done``: last event of a response, whatever the outcome, with ``usage``."""

    type: Literal["response.done"] = "response.done"
    response: Response
    """The final response (output items without audio bytes)."""


class ResponseOutputItemAddedEvent(ServerEventBase):
    """``response.output_item.added``: a response starts a new item."""

    type: Literal["response.output_item.added"] = "response.output_item.added"
    response_id: str
    """The response."""
    output_index: int
    """Index of the item in the response's output."""
    item: ConversationItem
    """The item, still ``in_progress`` and empty."""


class ResponseOutputItemDoneEvent(ServerEventBase):
    """``response.output_item.done``: an item of a response is finished (also on cancel)."""

    type: Literal["response.output_item.done"] = "response.output_item.done"
    response_id: str
    """The response."""
    output_index: int
    """Index of the item in the response's output."""
    item: ConversationItem
    """The finished item."""


class ContentPart(ProtocolModel):
    """A content part as streamed in ``response.content_part.*``: ``text`` or ``audio``."""

    type: Literal["text", "audio"] | None = None
    """Kind of part (GA servers still use ``text``/``audio`` here)."""
    text: str | None = None
    """Text of a ``text`` part."""
    audio: str | None = None
    """Base64 audio (not sent in practice)."""
    transcript: str | None = None
    """Transcript of an ``audio`` part."""


class ResponseContentPartAddedEvent(ContentEventBase):
    """``response.content_part.added``: a content part starts (empty)."""

    type: Literal["response.content_part.added"] = "response.content_part.added"
    part: ContentPart
    """The part, e.g. ``{"type": "audio", "transcript": ""}``."""


class ResponseContentPartDoneEvent(ContentEventBase):
    """``response.content_part.done``: a content part is finished (also on cancel)."""

    type: Literal["response.content_part.done"] = "response.content_part.done"
    part: ContentPart
    """The final part."""


class ResponseTextDeltaEvent(ContentEventBase):
    """``response.text.delta``: more text of a text answer."""

    type: Literal["response.text.delta"] = "response.text.delta"
    delta: str
    """New text."""


class ResponseTextDoneEvent(ContentEventBase):
    """``response.text.done``: the text part is complete."""

    type: Literal["response.text.done"] = "response.text.done"
    text: str
    """The full text."""


class ResponseAudioTranscriptDeltaEvent(ContentEventBase):
    """``response.audio_transcript.delta``: more transcript of the audio being generated."""

    type: Literal["response.audio_transcript.delta"] = "response.audio_transcript.delta"
    delta: str
    """New transcript text."""


class ResponseAudioTranscriptDoneEvent(ContentEventBase):
    """``response.audio_transcript.done``: the transcript is complete."""

    type: Literal["response.audio_transcript.done"] = "response.audio_transcript.done"
    transcript: str
    """The full transcript."""


class ResponseAudioDeltaEvent(ContentEventBase):
    """``response.audio.delta``: a chunk of generated audio in the session's output format."""

    type: Literal["response.audio.delta"] = "response.audio.delta"
    delta: str
    """Base64 audio."""


class ResponseAudioDoneEvent(ContentEventBase):
    """``response.audio.done``: the audio of this part is complete."""

    type: Literal["response.audio.done"] = "response.audio.done"


class ResponseFunctionCallArgumentsDeltaEvent(ServerEventBase):
    """``response.function_call_arguments.delta``: more of a function call's JSON arguments."""

    type: Literal["response.function_call_arguments.delta"] = "response.function_call_arguments.delta"
    response_id: str
    """The response."""
    item_id: str
    """The ``function_call`` item."""
    output_index: int
    """Index of the item in the response's output."""
    call_id: str
    """The call id."""
    delta: str
    """New argument text."""


class ResponseFunctionCallArgumentsDoneEvent(ServerEventBase):
    """``response.function_call_arguments.done``: the arguments are complete; the call may run."""

    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    response_id: str
    """The response."""
    item_id: str
    """The ``function_call`` item."""
    output_index: int
    """Index of the item in the response's output."""
    call_id: str
    """The call id."""
    arguments: str
    """The full arguments, a JSON string."""
    name: str | None = None
    """Function name (GA servers; in the GA SDK since openai-python 2.17)."""


class RateLimit(ProtocolModel):
    """One rate limit as reported by ``rate_limits.updated``."""

    name: Literal["requests", "tokens"] | None = None
    """Which limit."""
    limit: int | None = None
    """Maximum allowed."""
    remaining: int | None = None
    """Left before the limit is reached."""
    reset_seconds: float | None = None
    """Seconds until the limit resets."""


class RateLimitsUpdatedEvent(ServerEventBase):
    """``rate_limits.updated``: sent around each response (after ``response.done`` in practice)."""

    type: Literal["rate_limits.updated"] = "rate_limits.updated"
    rate_limits: list[RateLimit]
    """Current limits; may be empty (Azure)."""

"""Conversation items, content parts and the response object of the beta protocol.

Beta items are one flat model (as in the SDK): the ``type`` says which fields apply. GA splits them
per role; see :mod:`voxpipe.realtime.ga.items`.
"""

from typing import Any, ClassVar, Literal

from voxpipe.realtime._base import ProtocolModel
from voxpipe.realtime.beta.session_config import AudioFormat, Modality, ToolItem

__all__ = [
    "CachedTokensDetails",
    "ConversationItem",
    "InputTokenDetails",
    "ItemContent",
    "ItemStatus",
    "OutputTokenDetails",
    "Response",
    "ResponseError",
    "ResponseProperties",
    "ResponseStatus",
    "ResponseStatusDetails",
    "Usage",
]

ItemStatus = Literal["completed", "incomplete", "in_progress"]
ResponseStatus = Literal["completed", "cancelled", "failed", "incomplete", "in_progress"]


class ItemContent(ProtocolModel):
    """One content part of a message item.

    ``input_text`` (system, user), ``input_audio`` (user), ``text`` (assistant, client-created),
    ``audio`` (assistant, model-produced) and ``item_reference`` (only in ``response.create`` input).
    """

    type: Literal["input_text", "input_audio", "item_reference", "text", "audio"] | None = None
    """Kind of content."""
    text: str | None = None
    """Text of ``input_text`` / ``text`` parts."""
    audio: str | None = None
    """Base64 audio of ``input_audio`` parts (never included in ``response.done``)."""
    transcript: str | None = None
    """Transcript of an audio part; ``None`` on a fresh user audio item."""
    id: str | None = None
    """Referenced item id, for ``item_reference`` parts."""


class ConversationItem(ProtocolModel):
    """An item of the conversation: a message, a function call, or a function call's output."""

    id: str | None = None
    """Item id, client- or server-assigned (``item_…``)."""
    object: Literal["realtime.item"] | None = None
    """Always ``realtime.item`` when present."""
    type: Literal["message", "function_call", "function_call_output", "item_reference"] | None = None
    """Kind of item; ``item_reference`` only inside ``response.create`` input."""
    status: ItemStatus | None = None
    """Server-reported status; ignored on create."""
    role: Literal["user", "assistant", "system"] | None = None
    """Author of a ``message``."""
    content: list[ItemContent] | None = None
    """Content parts of a ``message``."""
    call_id: str | None = None
    """Id linking a ``function_call`` to its ``function_call_output``."""
    name: str | None = None
    """Function name of a ``function_call``."""
    arguments: str | None = None
    """JSON-encoded arguments of a ``function_call`` (a string, not an object)."""
    output: str | None = None
    """Result of a ``function_call_output``, usually JSON text."""


class ResponseError(ProtocolModel):
    """Why a response failed (in ``status_details.error``)."""

    type: str | None = None
    """Error type, e.g. ``invalid_request_error``."""
    code: str | None = None
    """Error code, e.g. ``inference_rate_limit_exceeded``."""
    message: str | None = None
    """Readable message (read by pipecat; not in the SDK type)."""


class ResponseStatusDetails(ProtocolModel):
    """Details of a response's final status; ``None`` when it completed."""

    type: Literal["completed", "cancelled", "incomplete", "failed"] | None = None
    """Same as the response status (without ``in_progress``)."""
    reason: Literal["turn_detected", "client_cancelled", "max_output_tokens", "content_filter"] | None = None
    """Why it was cancelled (``turn_detected``, ``client_cancelled``) or incomplete."""
    error: ResponseError | None = None
    """The error of a ``failed`` response."""


class CachedTokensDetails(ProtocolModel):
    """Breakdown of cached input tokens (in the beta spec example and GA, not in the beta SDK)."""

    text_tokens: int | None = None
    """Cached text tokens."""
    audio_tokens: int | None = None
    """Cached audio tokens."""
    image_tokens: int | None = None
    """Cached image tokens (GA)."""


class InputTokenDetails(ProtocolModel):
    """Breakdown of input tokens."""

    cached_tokens: int | None = None
    """Input tokens served from the prompt cache."""
    text_tokens: int | None = None
    """Text input tokens."""
    audio_tokens: int | None = None
    """Audio input tokens."""
    image_tokens: int | None = None
    """Image input tokens (GA)."""
    cached_tokens_details: CachedTokensDetails | None = None
    """Breakdown of ``cached_tokens``."""


class OutputTokenDetails(ProtocolModel):
    """Breakdown of output tokens."""

    text_tokens: int | None = None
    """Text output tokens (includes audio transcripts)."""
    audio_tokens: int | None = None
    """Audio output tokens."""


class Usage(ProtocolModel):
    """Token usage of one response (``None`` in ``response.created``)."""

    total_tokens: int | None = None
    """Input plus output tokens."""
    input_tokens: int | None = None
    """Input tokens, including the whole conversation context."""
    output_tokens: int | None = None
    """Output tokens."""
    input_token_details: InputTokenDetails | None = None
    """Breakdown of input tokens."""
    output_token_details: OutputTokenDetails | None = None
    """Breakdown of output tokens."""


class Response(ProtocolModel):
    """The response object of ``response.created`` and ``response.done``."""

    id: str | None = None
    """Response id, ``resp_…``."""
    object: Literal["realtime.response"] | None = None
    """Always ``realtime.response``."""
    status: ResponseStatus | None = None
    """``in_progress`` when created; final status when done."""
    status_details: ResponseStatusDetails | None = None
    """Why the response ended the way it did; ``None`` when completed."""
    output: list[ConversationItem] | None = None
    """Items produced (without audio bytes)."""
    usage: Usage | None = None
    """Token usage; ``None`` until ``response.done``."""
    conversation_id: str | None = None
    """Conversation written to; ``None`` for out-of-band (``conversation: "none"``) responses."""
    modalities: list[Modality] | None = None
    """Effective output modalities."""
    voice: str | None = None
    """Effective voice."""
    output_audio_format: AudioFormat | None = None
    """Effective output audio format."""
    temperature: float | None = None
    """Effective sampling temperature."""
    max_output_tokens: int | Literal["inf"] | None = None
    """Effective token limit."""
    metadata: dict[str, str] | None = None
    """Metadata given in ``response.create``."""


class ResponseProperties(ProtocolModel):
    """Per-response overrides for ``response.create``; every field is optional and unset by default."""

    _none_means_unset: ClassVar[bool] = True

    modalities: list[Modality] | None = None
    """Output modalities for this response."""
    instructions: str | None = None
    """Instructions for this response only."""
    voice: str | None = None
    """Voice for this response."""
    output_audio_format: AudioFormat | None = None
    """Output audio format for this response."""
    tools: list[ToolItem] | None = None
    """Tools for this response; an empty list clears them for this response."""
    tool_choice: str | dict[str, Any] | None = None
    """Tool choice for this response."""
    temperature: float | None = None
    """Sampling temperature for this response."""
    max_response_output_tokens: int | Literal["inf"] | None = None
    """Token limit for this response."""
    conversation: str | None = None
    """``auto`` (default conversation) or ``none`` (out-of-band, nothing written)."""
    metadata: dict[str, str] | None = None
    """Up to 16 string pairs to tell out-of-band responses apart."""
    input: list[ConversationItem] | None = None
    """Context for this response instead of the default conversation (items or ``item_reference``s)."""

"""GA conversation items, content parts and the response object.

The GA SDK splits items into one class per role and kind; on the wire they are one object with a
``type`` (and ``role`` for messages), so one flat model keeps parsing a dict lookup away and accepts
what servers really send (a documented retrieve example uses assistant content type ``audio``,
which the SDK's per-role classes reject). MCP item fields are kept as extras.
"""

from typing import Any, ClassVar, Literal

from voxpipe.realtime._base import ProtocolModel
from voxpipe.realtime.beta.items import ItemStatus, ResponseStatus, ResponseStatusDetails, Usage
from voxpipe.realtime.beta.session_config import Modality, ToolItem
from voxpipe.realtime.ga.session import AudioFormatSpec

__all__ = [
    "ConversationItem",
    "ItemContent",
    "ItemType",
    "Response",
    "ResponseAudio",
    "ResponseAudioOutput",
    "ResponseProperties",
]

ItemType = Literal[
    "message",
    "function_call",
    "function_call_output",
    "mcp_call",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
]


class ItemContent(ProtocolModel):
    """A content part: ``input_text``/``input_audio``/``input_image`` (user, system) or
    ``output_text``/``output_audio`` (assistant)."""

    type: (
        Literal["input_text", "input_audio", "input_image", "output_text", "output_audio", "text", "audio"]
        | None
    ) = None
    """Kind of content (``text``/``audio`` still appear in some GA server examples)."""
    text: str | None = None
    """Text of a text part."""
    audio: str | None = None
    """Base64 audio of an audio part."""
    transcript: str | None = None
    """Transcript of an audio part."""
    image_url: str | None = None
    """Data URI of an ``input_image`` part."""
    detail: Literal["auto", "low", "high"] | None = None
    """Image detail level of an ``input_image`` part."""


class ConversationItem(ProtocolModel):
    """A GA conversation item: ``message``, ``function_call``, ``function_call_output`` or an MCP item."""

    id: str | None = None
    """Item id."""
    object: Literal["realtime.item"] | None = None
    """``realtime.item`` when present (GA events usually omit it)."""
    type: ItemType | None = None
    """``message``, ``function_call``, ``function_call_output``, ``mcp_call``, ``mcp_list_tools``,
    ``mcp_approval_request`` or ``mcp_approval_response``."""
    status: ItemStatus | None = None
    """Server-reported status."""
    role: Literal["user", "assistant", "system"] | None = None
    """Author of a ``message``."""
    content: list[ItemContent] | None = None
    """Content parts of a ``message``."""
    call_id: str | None = None
    """Links a ``function_call`` and its output."""
    name: str | None = None
    """Function (or MCP tool) name."""
    arguments: str | None = None
    """JSON-encoded arguments."""
    output: str | None = None
    """Function (or MCP call) output."""


class ResponseAudioOutput(ProtocolModel):
    """Output audio settings of a response."""

    format: AudioFormatSpec | None = None
    """Output format."""
    voice: str | dict[str, Any] | None = None
    """Voice."""


class ResponseAudio(ProtocolModel):
    """The ``audio`` object of a GA response."""

    output: ResponseAudioOutput | None = None
    """Output side."""


class Response(ProtocolModel):
    """The GA response object of ``response.created`` / ``response.done``."""

    id: str | None = None
    """Response id."""
    object: Literal["realtime.response"] | None = None
    """Always ``realtime.response``."""
    status: ResponseStatus | None = None
    """``in_progress``, then the final status."""
    status_details: ResponseStatusDetails | None = None
    """Why the response ended as it did."""
    output: list[ConversationItem] | None = None
    """Items produced (no audio bytes)."""
    usage: Usage | None = None
    """Token usage (adds ``image_tokens`` and ``cached_tokens_details`` over beta)."""
    conversation_id: str | None = None
    """Conversation written to, or ``None`` for out-of-band responses."""
    output_modalities: list[Modality] | None = None
    """Effective output modalities."""
    audio: ResponseAudio | None = None
    """Effective output audio settings."""
    max_output_tokens: int | Literal["inf"] | None = None
    """Effective token limit."""
    metadata: dict[str, str] | None = None
    """Metadata given in ``response.create``."""


class ResponseProperties(ProtocolModel):
    """GA per-response overrides for ``response.create``."""

    _none_means_unset: ClassVar[bool] = True

    output_modalities: list[Modality] | None = None
    """Output modalities for this response."""
    instructions: str | None = None
    """Instructions for this response."""
    audio: ResponseAudio | None = None
    """Output audio settings for this response."""
    tools: list[ToolItem] | None = None
    """Tools for this response."""
    tool_choice: str | dict[str, Any] | None = None
    """Tool choice for this response."""
    max_output_tokens: int | Literal["inf"] | None = None
    """Token limit for this response."""
    conversation: str | None = None
    """``auto`` or ``none`` (out-of-band)."""
    metadata: dict[str, str] | None = None
    """Up to 16 string pairs."""
    input: list[ConversationItem] | None = None
    """Context for this response instead of the default conversation."""
    prompt: dict[str, Any] | None = None
    """A stored prompt reference."""

"""The conversation of one session: ordered items, their audio, and the LLM context they make.

Items are kept shape-neutral (``Item``, ``Part``) and rendered per dialect by
``voxpipe.server.connection.wire``.
Audio is stored as PCM16 at 24 kHz whatever the session's formats, so truncation and retrieval work
in milliseconds. A user audio item's words come from the STT; until they are known the item holds an
``asyncio.Future`` that the response pipeline awaits when it builds the LLM context.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field

from voxpipe.realtime import ProtocolModel, new_event_id
from voxpipe.server.connection.errors import ProtocolError
from voxpipe.server.engines.types import FunctionCall, FunctionCallOutput, LLMItem, LLMMessage

__all__ = ["BYTES_PER_MS", "Conversation", "Item", "ItemKind", "Part", "PartKind", "item_from_model"]

BYTES_PER_MS = 48  # PCM16 mono at 24 kHz


class ItemKind(enum.Enum):
    """The protocol's item ``type``."""

    MESSAGE = "message"
    FUNCTION_CALL = "function_call"
    FUNCTION_CALL_OUTPUT = "function_call_output"


class PartKind(enum.Enum):
    """Content part kinds, by their beta names (GA renames ``text``/``audio`` of the assistant)."""

    INPUT_TEXT = "input_text"
    INPUT_AUDIO = "input_audio"
    TEXT = "text"
    AUDIO = "audio"


@dataclass(slots=True)
class Part:
    """One content part; ``audio`` is PCM16 24 kHz."""

    kind: PartKind
    text: str | None = None
    transcript: str | None = None
    audio: bytearray | None = None

    @property
    def audio_ms(self) -> int:
        """Length of the audio in whole milliseconds (0 without audio)."""
        return len(self.audio) // BYTES_PER_MS if self.audio is not None else 0


@dataclass(slots=True)
class Item:
    """One conversation item (see the protocol reference, section 6)."""

    id: str
    kind: ItemKind
    role: str | None = None
    status: str = "completed"
    content: list[Part] = field(default_factory=list)
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None
    words: asyncio.Future[str] | None = None
    """For user audio: resolves to what the STT heard (used as LLM context)."""

    async def llm_item(self) -> LLMItem | None:
        """This item as LLM context, or None when it has nothing to say (an empty message)."""
        if self.kind is ItemKind.FUNCTION_CALL:
            return FunctionCall(self.call_id or "", self.name or "", self.arguments or "{}")
        if self.kind is ItemKind.FUNCTION_CALL_OUTPUT:
            return FunctionCallOutput(self.call_id or "", self.output or "")
        texts = []
        for part in self.content:
            if part.kind is PartKind.INPUT_AUDIO and self.words is not None:
                texts.append(await self.words)
            else:
                texts.append(part.text or part.transcript or "")
        text = " ".join(t for t in texts if t)
        if not text or self.role not in ("user", "assistant", "system"):
            return None
        return LLMMessage(self.role, text)  # type: ignore[arg-type]


def item_from_model(model: ProtocolModel, param: str = "item") -> Item:
    """Build an ``Item`` from a client's item (``conversation.item.create`` or ``response.input``).

    The model was validated by the parser (types, literals); this checks what the protocol reference
    adds for items a client creates: the kinds and parts a client may send, and the fields each kind needs.

    Raises:
        ProtocolError: a kind or part that a client may not create, or a missing field.
    """
    kind_name = getattr(model, "type", None) or "message"
    try:
        kind = ItemKind(kind_name)
    except ValueError:
        raise ProtocolError(
            f"Invalid value: {str(kind_name)[:64]!r}. Supported values are: 'message', 'function_call', "
            "'function_call_output'.",
            code="invalid_value",
            param=f"{param}.type",
        ) from None
    item = Item(id=getattr(model, "id", None) or new_event_id("item_"), kind=kind, status="completed")
    if kind is ItemKind.MESSAGE:
        role = getattr(model, "role", None)
        if role not in ("user", "assistant", "system"):
            raise ProtocolError(
                f"Missing or invalid parameter: '{param}.role'.", code="invalid_value", param=f"{param}.role"
            )
        item.role = role
        for index, part in enumerate(getattr(model, "content", None) or []):
            item.content.append(_part_from_model(part, role, f"{param}.content[{index}]"))
    elif kind is ItemKind.FUNCTION_CALL:
        item.call_id = _required(model, "call_id", param)
        item.name = _required(model, "name", param)
        item.arguments = getattr(model, "arguments", None) or "{}"
    else:
        item.call_id = _required(model, "call_id", param)
        item.output = getattr(model, "output", None) or ""
    return item


def _required(model: ProtocolModel, key: str, param: str) -> str:
    value = getattr(model, key, None)
    if not value:
        raise ProtocolError(
            f"Missing required parameter: '{param}.{key}'.",
            code="missing_required_parameter",
            param=f"{param}.{key}",
        )
    return str(value)


_ALLOWED_PARTS = {
    "user": {"input_text": PartKind.INPUT_TEXT, "input_audio": PartKind.INPUT_AUDIO},
    "system": {"input_text": PartKind.INPUT_TEXT},
    "assistant": {"text": PartKind.TEXT, "output_text": PartKind.TEXT},
}


def _part_from_model(part: ProtocolModel, role: str, param: str) -> Part:
    part_type = getattr(part, "type", None)
    kind = _ALLOWED_PARTS[role].get(part_type or "")
    if kind is None:
        raise ProtocolError(
            f"Invalid value: {str(part_type)[:64]!r}. A {role} message takes content of type "
            + ", ".join(repr(name) for name in _ALLOWED_PARTS[role])
            + ".",
            code="invalid_value",
            param=f"{param}.type",
        )
    return Part(kind=kind, text=getattr(part, "text", None), transcript=getattr(part, "transcript", None))


class Conversation:
    """The ordered items of the default conversation of one session.

    Args:
        max_items: creating more is refused with ``conversation_too_large``.
    """

    def __init__(self, max_items: int) -> None:
        self.id = new_event_id("conv_")
        self._order: list[str] = []
        self._items: dict[str, Item] = {}
        self._max_items = max_items
        self._call_ids: set[str] = set()

    def __len__(self) -> int:
        return len(self._order)

    @property
    def last_id(self) -> str | None:
        """Id of the last item, or None when empty."""
        return self._order[-1] if self._order else None

    def get(self, item_id: str) -> Item | None:
        """The item with that id, or None."""
        return self._items.get(item_id)

    def items(self) -> list[Item]:
        """All items, oldest first."""
        return [self._items[item_id] for item_id in self._order]

    def remember_call(self, call_id: str) -> None:
        """Note a call id the model produced (also out of band), so its output can be created later."""
        self._call_ids.add(call_id)

    @property
    def full(self) -> bool:
        """No item can be added before one is deleted (``conversation_too_large``)."""
        return len(self._order) >= self._max_items

    def check_room(self) -> None:
        """Raise ``conversation_too_large`` when the conversation is full (a client error: delete items)."""
        if self.full:
            raise ProtocolError(
                f"The conversation already holds {len(self._order)} items, the limit of this server. "
                "Delete items before creating more.",
                code="conversation_too_large",
            )

    def add(self, item: Item, previous_item_id: str | None = None) -> str | None:
        """Insert ``item`` after ``previous_item_id`` (None appends, ``"root"`` inserts first).

        Returns:
            The id of the item now before it, or None if it is first.

        Raises:
            ProtocolError: unknown ``previous_item_id``, duplicate id, unknown call id, or too many items.
        """
        self.check_room()
        if item.id in self._items:
            raise ProtocolError(
                f"Item with id '{item.id}' already exists.",
                code="item_create_duplicate_item_id",
                param="item.id",
            )
        if item.kind is ItemKind.FUNCTION_CALL_OUTPUT and item.call_id not in self._call_ids:
            raise ProtocolError(
                f"Tool call output for call_id '{str(item.call_id)[:64]}' has no matching function call.",
                code="invalid_call_id",
                param="item.call_id",
            )
        if previous_item_id is None:
            position = len(self._order)
        elif previous_item_id == "root":
            position = 0
        elif previous_item_id in self._items:
            position = self._order.index(previous_item_id) + 1
        else:
            raise ProtocolError(
                f"Previous item with id '{previous_item_id[:64]}' does not exist.",
                code="item_create_invalid_previous_item_id",
                param="previous_item_id",
            )
        if item.kind is ItemKind.FUNCTION_CALL and item.call_id:
            self._call_ids.add(item.call_id)
        self._order.insert(position, item.id)
        self._items[item.id] = item
        return self._order[position - 1] if position > 0 else None

    def delete(self, item_id: str) -> None:
        """Remove an item.

        Raises:
            ProtocolError: no such item.
        """
        if item_id not in self._items:
            raise ProtocolError(
                f"Item with item_id '{item_id[:64]}' not found.",
                code="item_delete_invalid_item_id",
                param="item_id",
            )
        del self._items[item_id]
        self._order.remove(item_id)

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        """Cut an assistant audio part at ``audio_end_ms`` and drop its transcript (what was not heard).

        Raises:
            ProtocolError: unknown item, not an assistant audio message, bad index, or past the end (with
                OpenAI's message and code ``null``).
        """
        item = self._items.get(item_id)
        if item is None:
            raise ProtocolError(
                f"Item with item_id '{item_id[:64]}' not found.",
                code="item_truncate_invalid_item_id",
                param="item_id",
            )
        if item.kind is not ItemKind.MESSAGE or item.role != "assistant" or not item.content:
            raise ProtocolError(
                "Only model output audio messages can be truncated", code="invalid_value", param="item_id"
            )
        if (
            not 0 <= content_index < len(item.content)
            or item.content[content_index].kind is not PartKind.AUDIO
        ):
            raise ProtocolError(
                f"Content index {content_index} is not an audio part of item '{item.id}'.",
                code="item_truncate_invalid_content_index",
                param="content_index",
            )
        if audio_end_ms < 0:
            raise ProtocolError(
                "Invalid 'audio_end_ms': integer below minimum value. Expected a value >= 0.",
                code="integer_below_min_value",
                param="audio_end_ms",
            )
        part = item.content[content_index]
        if audio_end_ms > part.audio_ms:
            raise ProtocolError(
                f"Audio content of {part.audio_ms}ms is already shorter than {audio_end_ms}ms",
                code=None,
                param="audio_end_ms",
            )
        if part.audio is not None:
            del part.audio[audio_end_ms * BYTES_PER_MS :]
        part.transcript = ""

    async def llm_items(self) -> list[LLMItem]:
        """The conversation as LLM context (waits for pending user transcripts)."""
        result = []
        for item in self.items():
            llm_item = await item.llm_item()
            if llm_item is not None:
                result.append(llm_item)
        return result

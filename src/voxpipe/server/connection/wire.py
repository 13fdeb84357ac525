"""Server state (items, parts, token counts, settings) rendered as protocol objects of one dialect.

The session logic is written once against ``WireRenderer``; every difference between beta and GA (event
classes, item announcements, part names, the response object's settings, usage details) is asked of the
:class:`~voxpipe.realtime.dialect.Dialect`. Every object sent is a ``voxpipe.realtime`` model.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from voxpipe.realtime import ServerEventBase
from voxpipe.realtime.dialect import Dialect, EventKind, audio_encoding, dialect
from voxpipe.server.connection.audio_codec import encode_clip
from voxpipe.server.connection.conversation import Item, ItemKind, Part, PartKind
from voxpipe.server.connection.settings import AudioCodec, SessionSettings

__all__ = ["UsageCounts", "WireRenderer", "wire_renderer"]


@dataclass(frozen=True, slots=True)
class UsageCounts:
    """Token counts of one response, split as the protocol's ``usage`` object wants them."""

    input_text: int = 0
    input_audio: int = 0
    cached: int = 0
    output_text: int = 0
    output_audio: int = 0


class WireRenderer:
    """The server-event vocabulary of one dialect, fed with the server's own state.

    Args:
        dialect: the protocol shape the client speaks.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    @property
    def name(self) -> str:
        """``"beta"`` or ``"ga"``."""
        return self.dialect.name

    def event(self, kind: EventKind, /, **fields: Any) -> ServerEventBase:
        """This dialect's server event of ``kind``."""
        return self.dialect.server_event(kind, **fields)

    def item_announced(self, item: Item, previous_item_id: str | None) -> list[ServerEventBase]:
        """Events announcing a new item: beta ``created``; GA ``added`` (+ ``done`` if final)."""
        final = item.status != "in_progress"
        return self.dialect.item_announcements(self.item(item), previous_item_id, final=final)

    def item_done(self, item: Item, previous_item_id: str | None) -> list[ServerEventBase]:
        """GA ``conversation.item.done`` for an item that was announced in progress; nothing in beta."""
        return self.dialect.item_completion(self.item(item), previous_item_id)

    def item(self, item: Item, *, audio_codec: AudioCodec | None = None) -> Any:
        """Render an item; with ``audio_codec`` the audio bytes are included (retrieve only)."""
        wire: dict[str, Any] = {"id": item.id, "type": item.kind.value, "status": item.status}
        if item.kind is ItemKind.MESSAGE:
            wire["role"] = item.role
            wire["content"] = [self._part(part, audio_codec) for part in item.content]
        elif item.kind is ItemKind.FUNCTION_CALL:
            wire.update(call_id=item.call_id, name=item.name, arguments=item.arguments or "")
        else:
            wire.update(call_id=item.call_id, output=item.output or "")
        return self.dialect.item(**wire)

    def _part(self, part: Part, audio_codec: AudioCodec | None) -> dict[str, Any]:
        wire: dict[str, Any] = {"type": self.dialect.assistant_part(part.kind.value)}
        if part.kind in (PartKind.INPUT_TEXT, PartKind.TEXT):
            wire["text"] = part.text or ""
        else:
            wire["transcript"] = part.transcript
            if audio_codec is not None and part.audio is not None:
                wire["audio"] = base64.b64encode(encode_clip(bytes(part.audio), audio_codec)).decode("ascii")
        return wire

    def response(
        self,
        *,
        response_id: str,
        status: str,
        status_details: dict[str, Any] | None,
        output: list[Item],
        usage: UsageCounts | None,
        conversation_id: str | None,
        settings: SessionSettings,
        metadata: dict[str, str] | None,
    ) -> Any:
        """Render the response object of ``response.created`` / ``response.done``."""
        wire: dict[str, Any] = {
            "id": response_id,
            "object": "realtime.response",
            "status": status,
            "status_details": status_details,
            "output": [self.item(item) for item in output],
            "conversation_id": conversation_id,
            "max_output_tokens": settings.max_output_tokens or "inf",
            "usage": self._usage(usage) if usage is not None else None,
            "metadata": metadata,
        }
        wire.update(
            self.dialect.response_output_settings(
                audio_output=settings.audio_output,
                voice=settings.voice,
                encoding=audio_encoding(settings.output_codec.value),
                temperature=settings.temperature,
            )
        )
        return self.dialect.response_model(**wire)

    def _usage(self, counts: UsageCounts) -> dict[str, Any]:
        return self.dialect.usage(
            input_text=counts.input_text,
            input_audio=counts.input_audio,
            cached=counts.cached,
            output_text=counts.output_text,
            output_audio=counts.output_audio,
        )


def wire_renderer(name: str) -> WireRenderer:
    """The renderer of the dialect named ``"beta"`` or ``"ga"``."""
    return WireRenderer(dialect("ga" if name == "ga" else "beta"))

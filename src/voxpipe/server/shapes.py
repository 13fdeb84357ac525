"""What differs between the beta and the GA shape on the way out: event classes, item and response objects.

The session logic is written once against ``ShapeOut``; only this module knows that GA calls the audio
stream ``response.output_audio.delta``, announces items with ``conversation.item.added`` and ``.done``
instead of ``conversation.item.created``, names assistant parts ``output_text``/``output_audio`` and
nests the response's audio settings. Every object sent is a ``voxpipe.realtime`` model.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from voxpipe.realtime import ServerEventBase, beta, ga
from voxpipe.realtime.beta import conversation as beta_conversation
from voxpipe.realtime.beta import items as beta_items
from voxpipe.realtime.beta import response as beta_response
from voxpipe.realtime.beta import session as beta_session
from voxpipe.realtime.ga import conversation as ga_conversation
from voxpipe.realtime.ga import items as ga_items
from voxpipe.realtime.ga import response as ga_response
from voxpipe.realtime.ga import session as ga_session
from voxpipe.server.session.audio_codec import encode_clip
from voxpipe.server.session.conversation import Item, ItemKind, Part, PartKind
from voxpipe.server.session.settings import AudioCodec, SessionSettings

__all__ = ["BETA", "GA", "ShapeOut", "UsageCounts", "shape_out"]

_GA_FORMATS = {
    AudioCodec.PCM16: {"type": "audio/pcm", "rate": 24000},
    AudioCodec.ULAW: {"type": "audio/pcmu"},
    AudioCodec.ALAW: {"type": "audio/pcma"},
}


@dataclass(frozen=True, slots=True)
class UsageCounts:
    """Token counts of one response, split as the protocol's ``usage`` object wants them."""

    input_text: int = 0
    input_audio: int = 0
    cached: int = 0
    output_text: int = 0
    output_audio: int = 0


@dataclass(frozen=True, slots=True)
class ShapeOut:
    """The server-event vocabulary of one shape."""

    name: str
    session_created: type[ServerEventBase]
    session_updated: type[ServerEventBase]
    response_created: type[ServerEventBase]
    response_done: type[ServerEventBase]
    output_item_added: type[ServerEventBase]
    output_item_done: type[ServerEventBase]
    text_delta: type[ServerEventBase]
    text_done: type[ServerEventBase]
    audio_delta: type[ServerEventBase]
    audio_done: type[ServerEventBase]
    transcript_delta: type[ServerEventBase]
    transcript_done: type[ServerEventBase]
    item_retrieved: type[ServerEventBase]
    item_model: type[Any]
    response_model: type[Any]
    session_model: type[Any]

    @property
    def is_ga(self) -> bool:
        """GA shape (item added/done, nested audio settings)."""
        return self.name == "ga"

    def item_announced(self, item: Item, previous_item_id: str | None) -> list[ServerEventBase]:
        """Events announcing a new item: beta ``created``; GA ``added`` (+ ``done`` if final)."""
        rendered = self.item(item)
        if not self.is_ga:
            return [
                beta_conversation.ConversationItemCreatedEvent(
                    previous_item_id=previous_item_id, item=rendered
                )
            ]
        events: list[ServerEventBase] = [
            ga_conversation.ConversationItemAddedEvent(previous_item_id=previous_item_id, item=rendered)
        ]
        if item.status != "in_progress":
            events.append(
                ga_conversation.ConversationItemDoneEvent(previous_item_id=previous_item_id, item=rendered)
            )
        return events

    def item_done(self, item: Item, previous_item_id: str | None) -> list[ServerEventBase]:
        """GA ``conversation.item.done`` for an item that was announced in progress; nothing in beta."""
        if not self.is_ga:
            return []
        return [
            ga_conversation.ConversationItemDoneEvent(previous_item_id=previous_item_id, item=self.item(item))
        ]

    def item(self, item: Item, *, audio_codec: AudioCodec | None = None) -> Any:
        """Render an item; with ``audio_codec`` the audio bytes are included (retrieve only)."""
        wire: dict[str, Any] = {"id": item.id, "type": item.kind.value, "status": item.status}
        if not self.is_ga:
            wire["object"] = "realtime.item"
        if item.kind is ItemKind.MESSAGE:
            wire["role"] = item.role
            wire["content"] = [self._part(part, audio_codec) for part in item.content]
        elif item.kind is ItemKind.FUNCTION_CALL:
            wire.update(call_id=item.call_id, name=item.name, arguments=item.arguments or "")
        else:
            wire.update(call_id=item.call_id, output=item.output or "")
        return self.item_model(**wire)

    def _part(self, part: Part, audio_codec: AudioCodec | None) -> dict[str, Any]:
        kind = part.kind.value
        if self.is_ga and part.kind in (PartKind.TEXT, PartKind.AUDIO):
            kind = "output_" + kind
        wire: dict[str, Any] = {"type": kind}
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
            "usage": _usage(usage, self.is_ga) if usage is not None else None,
            "metadata": metadata,
        }
        if self.is_ga:
            wire["output_modalities"] = ["audio"] if settings.audio_output else ["text"]
            wire["audio"] = {
                "output": {"format": _GA_FORMATS[settings.output_codec], "voice": settings.voice}
            }
        else:
            wire["modalities"] = ["audio", "text"] if settings.audio_output else ["text"]
            wire["voice"] = settings.voice
            wire["output_audio_format"] = settings.output_codec.value
            wire["temperature"] = settings.temperature
        return self.response_model(**wire)


def _usage(counts: UsageCounts, ga_shape: bool) -> dict[str, Any]:
    inputs = counts.input_text + counts.input_audio
    outputs = counts.output_text + counts.output_audio
    cached_details: dict[str, int] = {"text_tokens": counts.cached, "audio_tokens": 0}
    input_details: dict[str, Any] = {
        "text_tokens": counts.input_text,
        "audio_tokens": counts.input_audio,
        "cached_tokens": counts.cached,
        "cached_tokens_details": cached_details,
    }
    if ga_shape:
        input_details["image_tokens"] = 0
        cached_details["image_tokens"] = 0
    return {
        "total_tokens": inputs + outputs,
        "input_tokens": inputs,
        "output_tokens": outputs,
        "input_token_details": input_details,
        "output_token_details": {"text_tokens": counts.output_text, "audio_tokens": counts.output_audio},
    }


BETA = ShapeOut(
    name="beta",
    session_created=beta_session.SessionCreatedEvent,
    session_updated=beta_session.SessionUpdatedEvent,
    response_created=beta_response.ResponseCreatedEvent,
    response_done=beta_response.ResponseDoneEvent,
    output_item_added=beta_response.ResponseOutputItemAddedEvent,
    output_item_done=beta_response.ResponseOutputItemDoneEvent,
    text_delta=beta_response.ResponseTextDeltaEvent,
    text_done=beta_response.ResponseTextDoneEvent,
    audio_delta=beta_response.ResponseAudioDeltaEvent,
    audio_done=beta_response.ResponseAudioDoneEvent,
    transcript_delta=beta_response.ResponseAudioTranscriptDeltaEvent,
    transcript_done=beta_response.ResponseAudioTranscriptDoneEvent,
    item_retrieved=beta_conversation.ConversationItemRetrievedEvent,
    item_model=beta_items.ConversationItem,
    response_model=beta_items.Response,
    session_model=beta.Session,
)

GA = ShapeOut(
    name="ga",
    session_created=ga_session.SessionCreatedEvent,
    session_updated=ga_session.SessionUpdatedEvent,
    response_created=ga_response.ResponseCreatedEvent,
    response_done=ga_response.ResponseDoneEvent,
    output_item_added=ga_response.ResponseOutputItemAddedEvent,
    output_item_done=ga_response.ResponseOutputItemDoneEvent,
    text_delta=ga_response.ResponseOutputTextDeltaEvent,
    text_done=ga_response.ResponseOutputTextDoneEvent,
    audio_delta=ga_response.ResponseOutputAudioDeltaEvent,
    audio_done=ga_response.ResponseOutputAudioDoneEvent,
    transcript_delta=ga_response.ResponseOutputAudioTranscriptDeltaEvent,
    transcript_done=ga_response.ResponseOutputAudioTranscriptDoneEvent,
    item_retrieved=ga_conversation.ConversationItemRetrievedEvent,
    item_model=ga_items.ConversationItem,
    response_model=ga_items.Response,
    session_model=ga.Session,
)


def shape_out(name: str) -> ShapeOut:
    """``BETA`` or ``GA`` by name."""
    return GA if name == "ga" else BETA

"""``OpenAIRealtimeLLMService``: the realtime speech-to-speech service on the GA protocol.

The GA endpoint (``gpt-realtime``; no ``OpenAI-Beta`` header) renames events and nests the session's audio
settings, but a turn works the same way. This service is the beta service with the GA shape at its edges:
settings are written the familiar flat way (``SessionProperties``) and sent as a GA ``session``; GA server
events are handled by the same handlers, under their GA names.
"""

from __future__ import annotations

from typing import Any

from voxpipe.realtime import SessionProperties, ga
from voxpipe.realtime.client import RealtimeVariant
from voxpipe.services._realtime_service.items import messages_to_items
from voxpipe.services.openai_realtime._session import from_ga_session, to_ga_session
from voxpipe.services.openai_realtime_beta.openai import DEFAULT_BASE_URL, OpenAIRealtimeBetaLLMService

__all__ = ["DEFAULT_GA_MODEL", "OpenAIRealtimeLLMService"]

DEFAULT_GA_MODEL = "gpt-realtime"

GA_EVENT_ALIASES = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_text.delta": "response.text.delta",
    "conversation.item.added": "conversation.item.created",
    "conversation.item.done": "response.output_item.done",
}
"""GA server event names mapped to the beta names the shared handlers are keyed by."""


class OpenAIRealtimeLLMService(OpenAIRealtimeBetaLLMService):
    """Speech in, speech out, through a Realtime server speaking the GA protocol (today's OpenAI endpoint).

    Takes the same arguments as :class:`OpenAIRealtimeBetaLLMService`; ``model`` defaults to
    ``gpt-realtime``. ``temperature`` has no GA equivalent and is not sent.
    """

    _variant = RealtimeVariant.OPENAI_GA
    _event_aliases = GA_EVENT_ALIASES

    def __init__(
        self, *, model: str = DEFAULT_GA_MODEL, base_url: str = DEFAULT_BASE_URL, **kwargs: Any
    ) -> None:
        super().__init__(model=model, base_url=base_url, **kwargs)

    def _session_update_event(self, properties: SessionProperties) -> Any:
        return ga.SessionUpdateEvent(session=to_ga_session(properties))

    def _item_create_event(self, item: dict[str, Any]) -> Any:
        return ga.ConversationItemCreateEvent(item=ga.ConversationItem(**item))

    def _history_items(self, messages: Any) -> list[dict[str, Any]]:
        return messages_to_items(messages, assistant_text_type="output_text")

    def _on_server_session(self, session: Any) -> None:
        super()._on_server_session(from_ga_session(session))

"""``OpenAIRealtimeBetaLLMService``: a speech-to-speech model over the OpenAI Realtime (beta) protocol.

The service is :class:`~voxpipe.services._realtime_service.service.RealtimeLLMService` speaking the beta
dialect (``OpenAI-Beta: realtime=v1``); the GA service
(:class:`voxpipe.services.openai_realtime.OpenAIRealtimeLLMService`) is its sibling over the same base.
"""

from __future__ import annotations

from typing import Any

from voxpipe.realtime.client import RealtimeVariant
from voxpipe.realtime.dialect import BETA
from voxpipe.services._realtime_service.service import DEFAULT_BASE_URL, RealtimeLLMService

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_MODEL", "OpenAIRealtimeBetaLLMService"]

DEFAULT_MODEL = "gpt-4o-realtime-preview-2025-06-03"


class OpenAIRealtimeBetaLLMService(RealtimeLLMService):
    """Speech in, speech out, through a Realtime-protocol server (OpenAI's beta shape).

    Takes the arguments of :class:`~voxpipe.services._realtime_service.service.RealtimeLLMService`
    (``api_key``, ``model``, ``base_url``, ``session_properties``, ``start_audio_paused``,
    ``send_transcription_frames``, ``reconnect``, and the ``LLMService`` ones); ``model`` defaults to
    ``gpt-4o-realtime-preview-2025-06-03``.

    Events: ``on_conversation_item_created(service, item_id, item)`` and
    ``on_conversation_item_updated(service, item_id, item_or_None)``.
    """

    dialect = BETA
    _variant = RealtimeVariant.OPENAI_BETA

    def __init__(self, *, model: str = DEFAULT_MODEL, **kwargs: Any) -> None:
        super().__init__(model=model, **kwargs)

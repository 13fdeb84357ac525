"""``OpenAIRealtimeLLMService``: the realtime speech-to-speech service on the GA protocol.

The GA endpoint (``gpt-realtime``; no ``OpenAI-Beta`` header) renames events and nests the session's audio
settings, but a turn works the same way. This service is
:class:`~voxpipe.services._realtime_service.service.RealtimeLLMService` speaking the GA dialect, a sibling
of the beta service: settings are written the familiar flat way (``SessionProperties``) and the dialect
nests them into a GA ``session``; GA server events reach the same typed handlers by their kind.
"""

from __future__ import annotations

from typing import Any

from voxpipe.realtime.client import RealtimeVariant
from voxpipe.realtime.dialect import dialect
from voxpipe.services._realtime_service.service import DEFAULT_BASE_URL, RealtimeLLMService

__all__ = ["DEFAULT_GA_MODEL", "OpenAIRealtimeLLMService"]

DEFAULT_GA_MODEL = "gpt-realtime"


class OpenAIRealtimeLLMService(RealtimeLLMService):
    """Speech in, speech out, through a Realtime server speaking the GA protocol (today's OpenAI endpoint).

    Takes the same arguments as :class:`~voxpipe.services.openai_realtime_beta.OpenAIRealtimeBetaLLMService`;
    ``model`` defaults to ``gpt-realtime``. ``temperature`` has no GA equivalent and is not sent.
    """

    dialect = dialect("ga")
    _variant = RealtimeVariant.OPENAI_GA

    def __init__(
        self, *, model: str = DEFAULT_GA_MODEL, base_url: str = DEFAULT_BASE_URL, **kwargs: Any
    ) -> None:
        super().__init__(model=model, base_url=base_url, **kwargs)

"""``AzureRealtimeLLMService``: the GA realtime service on Azure OpenAI.

Azure's GA endpoint differs from OpenAI's only in how it is reached: ``{endpoint}/openai/v1/realtime`` with
``?model=<deployment>``, and an ``api-key`` header instead of a bearer token. Everything else (events,
sessions, reconnects, faults) is :class:`~voxpipe.services.openai_realtime.OpenAIRealtimeLLMService`'s
behaviour. The legacy Azure preview endpoint (beta events) is
:class:`~voxpipe.services.openai_realtime_beta.AzureRealtimeBetaLLMService`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from voxpipe.realtime.client import RealtimeVariant
from voxpipe.services.openai_realtime.llm import OpenAIRealtimeLLMService

__all__ = ["AzureRealtimeLLMService"]


class AzureRealtimeLLMService(OpenAIRealtimeLLMService):
    """The GA realtime service against an Azure OpenAI deployment.

    Args:
        api_key: the Azure resource key (sent as ``api-key``).
        base_url: the resource endpoint (``https://<resource>.openai.azure.com``), or the full realtime URL
            (``wss://<resource>.openai.azure.com/openai/v1/realtime?model=<deployment>``) as Azure shows it.
        deployment: the deployment name; defaults to the URL's ``model`` parameter, else ``model``.
        **kwargs: everything :class:`OpenAIRealtimeLLMService` takes.
    """

    _variant = RealtimeVariant.AZURE_GA

    def __init__(self, *, api_key: str, base_url: str, deployment: str | None = None, **kwargs: Any) -> None:
        in_url = next(iter(parse_qs(urlsplit(base_url).query).get("model", [])), None)
        name = deployment or in_url
        if name is not None:
            kwargs["model"] = name
        super().__init__(api_key=api_key, base_url=base_url, **kwargs)

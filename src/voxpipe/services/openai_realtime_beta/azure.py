"""``AzureRealtimeBetaLLMService``: the realtime service on Azure OpenAI (beta event shape).

Azure differs only in how it is reached: ``{endpoint}/openai/realtime?api-version=…&deployment=…`` and an
``api-key`` header instead of a bearer token. Everything else is the OpenAI service's behaviour.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import parse_qs, urlsplit

from voxpipe.realtime.client import DEFAULT_AZURE_API_VERSION, RealtimeClientConfig, RealtimeVariant
from voxpipe.services.openai_realtime_beta.openai import OpenAIRealtimeBetaLLMService

__all__ = ["AzureRealtimeBetaLLMService"]


class AzureRealtimeBetaLLMService(OpenAIRealtimeBetaLLMService):
    """The realtime service against an Azure OpenAI deployment.

    Args:
        api_key: the Azure resource key (sent as ``api-key``).
        base_url: the resource endpoint (``https://<resource>.openai.azure.com``), or the full realtime URL
            with ``api-version`` and ``deployment`` in its query, as Azure's portal shows it.
        deployment: the deployment name; defaults to the URL's ``deployment`` parameter, else ``model``.
        api_version: Azure's ``api-version``; defaults to the URL's, else a known-good preview version.
        **kwargs: everything :class:`OpenAIRealtimeBetaLLMService` takes.
    """

    _variant = RealtimeVariant.AZURE

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        deployment: str | None = None,
        api_version: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(api_key=api_key, base_url=base_url, **kwargs)
        query = parse_qs(urlsplit(base_url).query)
        self._deployment = deployment or next(iter(query.get("deployment", [])), None) or self.model_name
        self._api_version = api_version or next(iter(query.get("api-version", [])), DEFAULT_AZURE_API_VERSION)

    def _client_config(self) -> RealtimeClientConfig:
        return dataclasses.replace(
            super()._client_config(),
            model=None,  # the deployment names the model
            azure_deployment=self._deployment,
            azure_api_version=self._api_version,
        )

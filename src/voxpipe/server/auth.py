"""API keys: reading them from a WebSocket handshake or HTTP request, and the ephemeral keys we mint.

Clients present a key the way OpenAI's do: ``Authorization: Bearer <key>`` (SDKs), ``api-key: <key>``
(Azure-style clients) or the ``openai-insecure-api-key.<key>`` subprotocol (browsers). Ephemeral keys
(``ek_…``) come from ``POST /v1/realtime/sessions`` (beta) or ``/v1/realtime/client_secrets`` (GA), expire,
and carry the session config they were minted with. Keys never appear in logs: only their length.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from voxpipe.realtime import ProtocolModel, Shape

__all__ = ["EphemeralKey", "KeyStore", "key_from_request", "mask_key"]

_SUBPROTOCOL_PREFIX = "openai-insecure-api-key."


def key_from_request(headers: Mapping[str, str], subprotocols: list[str]) -> str | None:
    """The key a client presented, or None."""
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if headers.get("api-key"):
        return headers["api-key"].strip()
    for protocol in subprotocols:
        if protocol.startswith(_SUBPROTOCOL_PREFIX) and len(protocol) > len(_SUBPROTOCOL_PREFIX):
            return protocol[len(_SUBPROTOCOL_PREFIX) :]
    return None


def mask_key(key: str) -> str:
    """``sk-a***…wxyz``-style masking for error messages (as OpenAI's ``invalid_api_key`` message does)."""
    if len(key) <= 8:
        return "***"
    return f"{key[:4]}***{key[-4:]}"


@dataclass(frozen=True, slots=True)
class EphemeralKey:
    """A minted key: its expiry (unix seconds), the shape it was made for and its session config."""

    value: str
    expires_at: int
    shape: Shape
    session: ProtocolModel


class KeyStore:
    """Checks presented keys against the server key and the live ephemeral keys.

    Args:
        api_key: the server's key, or None when no key is required.
    """

    def __init__(self, api_key: str | None) -> None:
        self._api_key = api_key
        self._ephemeral: dict[bytes, EphemeralKey] = {}  # by SHA-256 of the value: no timing on the key

    @property
    def required(self) -> bool:
        """Whether clients must present a key."""
        return self._api_key is not None

    def is_server_key(self, key: str | None) -> bool:
        """The key is the server's own key (constant-time comparison of digests, whatever the lengths)."""
        if not key or not self._api_key:
            return False
        return hmac.compare_digest(_digest(key), _digest(self._api_key))

    def mint(self, shape: Shape, session: ProtocolModel, ttl_s: int) -> EphemeralKey:
        """Make an ephemeral key for ``session`` (a validated ``session.update`` session)."""
        self._prune()
        key = EphemeralKey("ek_" + secrets.token_urlsafe(24), int(time.time()) + ttl_s, shape, session)
        self._ephemeral[_digest(key.value)] = key
        return key

    def ephemeral(self, key: str | None) -> EphemeralKey | None:
        """The live ephemeral key with that value, or None."""
        if key is None:
            return None
        found = self._ephemeral.get(_digest(key))
        if found is None or found.expires_at < time.time():
            return None
        return found

    def accepts(self, key: str | None) -> bool:
        """A request with ``key`` may go on."""
        return not self.required or self.is_server_key(key) or self.ephemeral(key) is not None

    def _prune(self) -> None:
        now = time.time()
        for digest in [digest for digest, key in self._ephemeral.items() if key.expires_at < now]:
            del self._ephemeral[digest]


def _digest(key: str) -> bytes:
    """What ephemeral keys are looked up by: a dict lookup compares digests, never the key's characters."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()

"""Settings of the realtime session client, and the URL, headers and subprotocols they produce.

Kept apart from the client so the wire details of each variant (OpenAI beta, OpenAI GA, Azure) can be read
and tested without a socket.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from voxpipe.errors import VoxpipeUsageError
from voxpipe.realtime.client._redact import mask_secret, redact

__all__ = [
    "ConnectTarget",
    "RealtimeClientConfig",
    "RealtimeVariant",
    "ReconnectPolicy",
    "build_target",
]

DEFAULT_BETA_MODEL = "gpt-4o-realtime-preview-2025-06-03"
DEFAULT_GA_MODEL = "gpt-realtime"
DEFAULT_BASE_URL = "wss://api.openai.com/v1/realtime"
DEFAULT_AZURE_API_VERSION = "2024-10-01-preview"


class RealtimeVariant(enum.Enum):
    """Which server flavour to talk to; decides URL, headers and the event shape."""

    OPENAI_BETA = "openai_beta"
    """``OpenAI-Beta: realtime=v1`` header, beta event names. Only local servers still accept it."""
    OPENAI_GA = "openai_ga"
    """No beta header, GA event names: today's OpenAI endpoint."""
    AZURE = "azure"
    """Azure legacy: ``/openai/realtime?api-version=&deployment=``, ``api-key`` header, beta events."""
    AZURE_GA = "azure_ga"
    """Azure GA: ``/openai/v1/realtime?model=<deployment>``, ``api-key`` header, GA events."""

    @property
    def shape(self) -> str:
        """The event shape the server speaks: ``"beta"`` or ``"ga"``."""
        return "ga" if self in (RealtimeVariant.OPENAI_GA, RealtimeVariant.AZURE_GA) else "beta"


@dataclass(frozen=True, kw_only=True)
class ReconnectPolicy:
    """How to come back after a dropped socket.

    Delay before attempt ``n`` (1-based) is ``min(max_delay, base_delay * 2 ** (n - 1))``, reduced by a
    random share of at most ``jitter`` so that many clients dropped together do not return together.

    Attributes:
        max_attempts: attempts per drop before giving up; 0 switches reconnecting off.
        base_delay: seconds before the first attempt.
        max_delay: cap on one delay, in seconds.
        jitter: share of each delay that is random, 0 to 1.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 10.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 0 or self.base_delay < 0 or self.max_delay < 0 or not 0 <= self.jitter <= 1:
            raise VoxpipeUsageError(
                "ReconnectPolicy needs max_attempts, base_delay, max_delay >= 0 and 0 <= jitter <= 1; "
                f"got {self}"
            )

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Return the seconds to wait before reconnect attempt ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling * (1 - self.jitter * rng.random())


@dataclass(frozen=True, kw_only=True)
class RealtimeClientConfig:
    """Everything the session client needs to know before it connects.

    Attributes:
        api_key: OpenAI key, ephemeral key or Azure key; never shown whole in a repr, log or error.
        variant: server flavour (URL, headers, event shape).
        base_url: ``wss://…/v1/realtime`` for OpenAI (``http(s)`` is switched to ``ws(s)``), the resource
            endpoint (``https://<res>.openai.azure.com``) for Azure. Query parameters in it are kept.
        model: model (or Azure GA deployment) name; ``None`` keeps the URL's or picks the variant default.
        azure_deployment: Azure legacy deployment name (required for :attr:`RealtimeVariant.AZURE`).
        azure_api_version: Azure ``api-version``.
        browser_subprotocols: authenticate as a browser does, with subprotocols instead of headers.
        extra_headers: more headers to send (sensitive ones are never logged).
        wait_for_session_created: ``connect()`` returns only after ``session.created`` arrived.
        open_timeout: seconds allowed for the TCP+TLS+WebSocket handshake.
        session_created_timeout: seconds allowed for ``session.created`` after the handshake.
        close_timeout: seconds allowed for a clean close before the socket is dropped.
        hook_timeout: seconds allowed for the ``on_connected`` hook.
        ping_interval: seconds between keepalive pings (``None``: off).
        ping_timeout: seconds to wait for a pong before calling the link dead (``None``: forever).
        max_message_size: largest incoming message in bytes (``None``: no limit).
        reconnect: the reconnect policy.
        rotate_on_expiry: start a fresh session when the server ends one for its time limit.
        max_pending_events: most events read from the socket and not yet taken by the owner; past it the
            reader stops reading until the owner takes one, so a slow owner holds the server back (TCP
            back-pressure) instead of filling memory. ``None``: unbounded (an owner that stops reading
            for long would otherwise miss the keepalive's pongs).
    """

    api_key: str | None = field(default=None, repr=False)
    variant: RealtimeVariant = RealtimeVariant.OPENAI_BETA
    base_url: str = DEFAULT_BASE_URL
    model: str | None = None
    azure_deployment: str | None = None
    azure_api_version: str = DEFAULT_AZURE_API_VERSION
    browser_subprotocols: bool = False
    extra_headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    wait_for_session_created: bool = True
    open_timeout: float = 10.0
    session_created_timeout: float = 10.0
    close_timeout: float = 5.0
    hook_timeout: float = 10.0
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    max_message_size: int | None = 32 * 1024 * 1024
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    rotate_on_expiry: bool = True
    max_pending_events: int | None = None

    def __repr__(self) -> str:
        """Show the settings with the key masked (``'sk-…abcd'``) and header values hidden."""
        return (
            f"RealtimeClientConfig(api_key={mask_secret(self.api_key)!r}, variant={self.variant.name}, "
            f"base_url={redact(self.base_url, [self.api_key])!r}, model={self.model!r}, "
            f"browser_subprotocols={self.browser_subprotocols}, "
            f"extra_headers={sorted(self.extra_headers)!r}, reconnect={self.reconnect!r})"
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value that must never be logged: the key and the extra header values."""
        found = [self.api_key or "", *self.extra_headers.values()]
        return tuple(s for s in found if len(s) >= 4)


@dataclass(frozen=True, slots=True)
class ConnectTarget:
    """Where and how to open the socket: built once per client, used for every (re)connection."""

    url: str
    headers: Mapping[str, str] = field(repr=False)
    subprotocols: tuple[str, ...] | None = field(repr=False)
    shape: str


def _with_query(url: str, add: Mapping[str, str | None], *, override: bool) -> str:
    """Return ``url`` with the ``add`` parameters merged into its query (existing ones kept)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for key, value in add.items():
        if value is not None and (override or key not in query):
            query[key] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def _ws_scheme(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise VoxpipeUsageError(
            f"base_url must start with ws://, wss://, http:// or https://; got {redact(url)!r}"
        )
    return urlunsplit(parts._replace(scheme=scheme))


def _build_url(config: RealtimeClientConfig) -> str:
    url = _ws_scheme(config.base_url)
    variant = config.variant
    if variant is RealtimeVariant.AZURE:
        if not config.azure_deployment:
            raise VoxpipeUsageError("RealtimeVariant.AZURE needs azure_deployment (the deployment name)")
        if not urlsplit(url).path.rstrip("/").endswith("/openai/realtime"):
            url = urlsplit(url)._replace(path=urlsplit(url).path.rstrip("/") + "/openai/realtime").geturl()
        params = {"api-version": config.azure_api_version, "deployment": config.azure_deployment}
        return _with_query(url, params, override=True)
    if variant is RealtimeVariant.AZURE_GA and not urlsplit(url).path.rstrip("/").endswith("/realtime"):
        url = urlsplit(url)._replace(path=urlsplit(url).path.rstrip("/") + "/openai/v1/realtime").geturl()
    default = DEFAULT_GA_MODEL if variant.shape == "ga" else DEFAULT_BETA_MODEL
    url = _with_query(url, {"model": config.model}, override=True)
    return _with_query(url, {"model": default}, override=False)


def build_target(config: RealtimeClientConfig) -> ConnectTarget:
    """Build the URL, headers and subprotocols for ``config``.

    Args:
        config: the client settings.

    Returns:
        The connection target.

    Raises:
        VoxpipeUsageError: the base URL has a wrong scheme, or Azure lacks its deployment.
    """
    variant = config.variant
    headers: dict[str, str] = {}
    subprotocols: tuple[str, ...] | None = None
    if config.browser_subprotocols:
        protocols = ["realtime"]
        if config.api_key:
            protocols.append(f"openai-insecure-api-key.{config.api_key}")
        if variant.shape == "beta":
            protocols.append("openai-beta.realtime-v1")
        subprotocols = tuple(protocols)
    elif variant in (RealtimeVariant.AZURE, RealtimeVariant.AZURE_GA):
        if config.api_key:
            headers["api-key"] = config.api_key
    else:
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        if variant is RealtimeVariant.OPENAI_BETA:
            headers["OpenAI-Beta"] = "realtime=v1"
    headers.update(config.extra_headers)
    return ConnectTarget(
        url=_build_url(config),
        headers=MappingProxyType(headers),
        subprotocols=subprotocols,
        shape=variant.shape,
    )

"""The standalone realtime session client: one WebSocket session, kept alive, no pipeline needed.

Usage::

    from voxpipe.realtime.client import RealtimeClient, RealtimeClientConfig, RealtimeVariant

    config = RealtimeClientConfig(api_key=key, variant=RealtimeVariant.OPENAI_GA)
    async with RealtimeClient(config) as client:
        client.send({"type": "response.create"})
        async for event in client:
            ...

What lives where (private modules, re-exported here):

* ``_client`` -- :class:`RealtimeClient`: the state machine, the outbox, the supervisor task.
* ``_connection`` -- per-connection pieces: :class:`ConnectionInfo` (the ``on_connected`` handle),
  why a connection ended, the reconnect loop.
* ``_connect`` -- opening one WebSocket and mapping websockets' errors to ours.
* ``_config`` -- :class:`RealtimeClientConfig`: URL, headers and subprotocols per variant.
* ``_errors`` -- sorting server ``error`` events and close codes into recoverable, fatal and rotate.
* ``_notices`` -- the events the client makes itself (:class:`Reconnected`, ...) and the frame codec.
* ``_redact`` -- keeping API keys out of logs, reprs and exception messages.
* ``_state`` / ``_stream`` -- the client's state enum and its event stream.

The names that need ``websockets`` (:class:`RealtimeClient`, :class:`ConnectionInfo`, ``OnConnected``)
load on first use, so that a service can import the config and notice types without paying for
``websockets`` at import time (``import voxpipe.services.openai_realtime_beta`` stays fast).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from voxpipe.realtime.client._config import (
    DEFAULT_AZURE_API_VERSION,
    RealtimeClientConfig,
    RealtimeVariant,
    ReconnectPolicy,
)
from voxpipe.realtime.client._errors import (
    ConnectTimeoutError,
    ErrorClassification,
    MalformedFrameError,
    RealtimeServerError,
    ReconnectExhaustedError,
    SessionExpiredError,
    classify_close,
    classify_error,
)
from voxpipe.realtime.client._notices import (
    ClientNotice,
    ConnectionLost,
    ConnectReason,
    MalformedFrame,
    Reconnected,
)
from voxpipe.realtime.client._redact import RedactingLogger, mask_secret, redact
from voxpipe.realtime.client._state import ClientState

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.realtime.client._client import RealtimeClient
    from voxpipe.realtime.client._connection import ConnectionInfo, OnConnected

__all__ = [
    "DEFAULT_AZURE_API_VERSION",
    "ClientNotice",
    "ClientState",
    "ConnectReason",
    "ConnectTimeoutError",
    "ConnectionInfo",
    "ConnectionLost",
    "ErrorClassification",
    "MalformedFrame",
    "MalformedFrameError",
    "OnConnected",
    "RealtimeClient",
    "RealtimeClientConfig",
    "RealtimeServerError",
    "RealtimeVariant",
    "ReconnectExhaustedError",
    "ReconnectPolicy",
    "Reconnected",
    "RedactingLogger",
    "SessionExpiredError",
    "classify_close",
    "classify_error",
    "mask_secret",
    "redact",
]

#: public name -> private module that defines it, for the names that pull in ``websockets``
_LAZY = {
    "RealtimeClient": "voxpipe.realtime.client._client",
    "ConnectionInfo": "voxpipe.realtime.client._connection",
    "OnConnected": "voxpipe.realtime.client._connection",
}


def __getattr__(name: str) -> Any:
    """Load the ``websockets``-backed names on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

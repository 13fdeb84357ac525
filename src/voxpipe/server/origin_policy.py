"""Which web pages may use the server: an Origin allow-list for browser WebSockets and CORS.

Why: with no key configured (the default) any web page the user visits could otherwise open realtime
sessions on the local server (browsers send cross-origin WebSocket upgrades without asking anyone) or
mint keys through a "simple" cross-origin POST. Browsers always send ``Origin`` on those requests, and
pages cannot forge it, so it is what the server checks:

* no ``Origin`` header: not a browser (SDKs, pipecat, curl): allowed; keys are what guard those.
* a **loopback page** (``http://localhost:*``, ``127.0.0.0/8``, ``[::1]``, ``*.localhost``): allowed, so
  ``voxpipe web`` and other local tools work out of the box.
* a **same-origin page** (``Origin`` names the host the request was sent to): allowed.
* an origin in ``ServerConfig.allowed_origins`` (``"*"`` allows every page): allowed.
* anything else, ``null`` included (sandboxed frames, ``file:`` pages): refused. A WebSocket upgrade gets
  HTTP 403 before any session exists; an HTTP request gets 403 with an OpenAI-style error body.

Allowed cross-origin HTTP requests get CORS headers (``Access-Control-Allow-Origin`` echoing the page,
never ``*``), and preflights (``OPTIONS`` with ``Access-Control-Request-Method``) are answered here.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

__all__ = ["OriginMiddleware", "OriginPolicy"]

logger = logging.getLogger(__name__)

_ALLOWED_METHODS = "GET, POST, OPTIONS"
_MAX_AGE_S = "600"


def _is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OriginPolicy:
    """Decides whether a request's ``Origin`` may use the server (see the module docstring).

    Args:
        allowed_origins: extra origins (``scheme://host[:port]``, compared case-insensitively), or
            ``"*"`` for every page.
    """

    def __init__(self, allowed_origins: Iterable[str] = ()) -> None:
        origins = {origin.strip().rstrip("/").lower() for origin in allowed_origins if origin.strip()}
        self._any = "*" in origins
        self._origins = frozenset(origins - {"*"})

    def allows(self, origin: str | None, host: str | None) -> bool:
        """Whether a request with header ``Origin: origin`` sent to ``Host: host`` may go on."""
        if origin is None:
            return True
        if self._any:
            return True
        normalized = origin.strip().rstrip("/").lower()
        if normalized in self._origins:
            return True
        parts = urlsplit(normalized)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False  # "null", file:, extensions: never by default
        if _is_loopback_host(parts.hostname):
            return True
        return host is not None and parts.netloc == host.strip().lower()


class OriginMiddleware:
    """ASGI middleware applying an :class:`OriginPolicy` to every WebSocket and HTTP request.

    Args:
        app: the wrapped ASGI app.
        policy: the policy.
    """

    def __init__(self, app: Any, policy: OriginPolicy) -> None:
        self._app = app
        self._policy = policy

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        origin = headers.get("origin")
        if not self._policy.allows(origin, headers.get("host")):
            logger.info("refused a %s request from origin %r", scope["type"], (origin or "")[:100])
            await _refuse(scope, receive, send)
            return
        if origin is None or scope["type"] == "websocket":
            await self._app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await _preflight(send, origin, headers.get("access-control-request-headers", ""))
            return
        await self._app(scope, receive, _with_cors(send, origin))


async def _refuse(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        if (await receive())["type"] == "websocket.connect":
            await send({"type": "websocket.close", "code": 1008})  # before accepting: HTTP 403
        return
    body = json.dumps(
        {
            "error": {
                "message": "This server does not accept requests from that web page's origin; add it to "
                "the server's allowed origins (voxpipe serve --allow-origin).",
                "type": "invalid_request_error",
                "param": None,
                "code": "origin_not_allowed",
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _preflight(send: Any, origin: str, requested_headers: str) -> None:
    headers = [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-methods", _ALLOWED_METHODS.encode()),
        (b"access-control-allow-headers", requested_headers[:1000].encode("latin-1")),
        (b"access-control-max-age", _MAX_AGE_S.encode()),
        (b"vary", b"Origin"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def _with_cors(send: Any, origin: str) -> Any:
    async def send_with_cors(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            headers += [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
            message = {**message, "headers": headers}
        await send(message)

    return send_with_cors

"""Open one realtime WebSocket: the handshake, the wait for ``session.created``, and error translation.

This is the client's only boundary with websockets' exceptions: :func:`translate_connect_error` maps each
of them to a voxpipe error (most specific first, chained to the original unless its text holds a secret),
so nothing above it catches a websockets type except ``ConnectionClosed`` on a live socket.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
    NegotiationError,
    WebSocketException,
)
from websockets.typing import Subprotocol

from voxpipe.errors import ConnectionFailedError, VoxpipeUsageError
from voxpipe.realtime.client._config import ConnectTarget, RealtimeClientConfig
from voxpipe.realtime.client._errors import (
    CloseAction,
    ConnectTimeoutError,
    ErrorClassification,
    RealtimeServerError,
    classify_close,
    classify_error,
)
from voxpipe.realtime.client._notices import decode_frame, event_type
from voxpipe.realtime.client._redact import RedactingLogger, redact

__all__ = ["open_connection", "translate_connect_error"]

logger = logging.getLogger(__name__)
_wire_logger = logging.getLogger("voxpipe.realtime.wire")

#: HTTP statuses worth another attempt: timeouts, rate limits, server trouble.
_RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_STATUS_HINTS = {
    401: "check the API key",
    403: "check the API key and that it may use the realtime API",
    404: "check base_url (OpenAI: wss://api.openai.com/v1/realtime) and the model or deployment name",
}


def _safe(exc: BaseException, secrets: tuple[str, ...]) -> tuple[str, bool]:
    """Return the redacted text of ``exc`` and whether the original text was already clean."""
    original = f"{type(exc).__name__}: {exc}"
    cleaned = redact(original, secrets)
    return cleaned, cleaned == original


def translate_connect_error(
    exc: BaseException, url: str, secrets: tuple[str, ...]
) -> tuple[Exception, BaseException | None]:
    """Map a websockets or socket error raised while connecting to a voxpipe error.

    The caller raises the result *outside* its ``except`` block, as ``raise error from cause``: the
    original is then reachable only as ``__cause__``, and only when its text holds no secret.

    Args:
        exc: what ``websockets.connect`` raised.
        url: the URL being opened (for messages; it is redacted).
        secrets: the secrets to keep out of every message.

    Returns:
        The voxpipe error and the cause to chain (``None`` when the original would leak a secret):
        ``ConnectionFailedError`` when the server refused or could not be reached (``retryable`` says
        whether another attempt may work; ``code`` is ``http_<status>``, ``handshake`` or an OS error
        name), ``ConnectTimeoutError`` when the handshake took longer than ``open_timeout``,
        ``VoxpipeUsageError`` when the URL is not a WebSocket URL.
    """
    where = redact(url, secrets)
    text = f"{type(exc).__name__}: {exc}"
    cleaned = redact(text, secrets)
    cause = exc if cleaned == text else None
    if isinstance(exc, InvalidURI):
        return VoxpipeUsageError(f"{where!r} is not a valid WebSocket URL"), None
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        hint = _STATUS_HINTS.get(status, "see the server's logs")
        message = f"the server at {where} refused the WebSocket upgrade with HTTP {status}: {hint}"
        retryable = status in _RETRYABLE_STATUSES
        return ConnectionFailedError(message, code=f"http_{status}", retryable=retryable), None
    if isinstance(exc, InvalidHandshake | ConnectionClosed):
        retryable = not isinstance(exc, NegotiationError)
        message = f"the WebSocket handshake with {where} failed ({cleaned})"
        return ConnectionFailedError(message, code="handshake", retryable=retryable), cause
    if isinstance(exc, TimeoutError):
        message = f"no WebSocket handshake with {where} within the open timeout; is the server up?"
        return ConnectTimeoutError(message, code="timeout", retryable=True), cause
    if isinstance(exc, OSError):
        message = f"could not reach {where} ({cleaned}); is the server running and the address right?"
        return ConnectionFailedError(message, code=type(exc).__name__, retryable=True), cause
    message = f"connecting to {where} failed unexpectedly ({cleaned})"
    return ConnectionFailedError(message, code="unexpected", retryable=False), cause


def _fatal_close(code: int | None, reason: str, error_code: str | None) -> RealtimeServerError:
    classification = ErrorClassification(
        code=error_code or (str(code) if code is not None else None),
        type=None,
        message=reason,
        recoverable=False,
        fatal=True,
    )
    return RealtimeServerError(
        f"the server closed the connection with code {code} ({reason or 'no reason'}); "
        "this will not work on retry: check the key, model and protocol variant",
        classification,
    )


async def _await_session_created(
    ws: ClientConnection, shape: str, timeout: float, secrets: tuple[str, ...]
) -> list[Any]:
    """Read frames until ``session.created``; return them all (they belong to the consumer)."""
    received: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                event = decode_frame(await ws.recv(), shape)
                received.append(event)
                kind = event_type(event)
                if kind == "session.created":
                    return received
                if kind == "error":
                    verdict = classify_error(event)
                    if verdict.fatal:
                        raise RealtimeServerError(
                            f"the server refused the session: {verdict.code}: "
                            f"{redact(verdict.message, secrets)}",
                            verdict,
                        )
    except TimeoutError:
        raise ConnectTimeoutError(
            f"no session.created within {timeout} s after the WebSocket opened",
            code="session_created_timeout",
            retryable=True,
        ) from None
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd is not None else None
        reason = exc.rcvd.reason if exc.rcvd is not None else ""
        closing = classify_close(code, reason)
        if closing.action is CloseAction.FATAL:
            raise _fatal_close(code, reason, closing.error_code) from None
        raise ConnectionFailedError(
            f"the server closed the connection (code {code}) before session.created",
            code=str(code),
            retryable=True,
        ) from None


async def open_connection(
    config: RealtimeClientConfig, target: ConnectTarget
) -> tuple[ClientConnection, list[Any]]:
    """Open the socket and, if configured, wait for ``session.created``.

    Cancelling is safe: a half-open socket is closed before the cancellation goes on.

    Args:
        config: the client settings (timeouts, keepalive, sizes).
        target: URL, headers and subprotocols.

    Returns:
        The open connection and the events read while waiting for ``session.created`` (in order).

    Raises:
        ConnectionFailedError: see :func:`translate_connect_errors`; also a close before ``session.created``.
        ConnectTimeoutError: the handshake or ``session.created`` did not come in time.
        RealtimeServerError: the server answered with a fatal error event or close code.
    """
    secrets = config.secrets
    subprotocols = [Subprotocol(p) for p in target.subprotocols] if target.subprotocols else None
    logger.info("connecting to %s", redact(target.url, secrets))
    failure: tuple[Exception, BaseException | None] | None = None
    try:
        ws = await connect(
            target.url,
            additional_headers=dict(target.headers),
            subprotocols=subprotocols,
            open_timeout=config.open_timeout,
            ping_interval=config.ping_interval,
            ping_timeout=config.ping_timeout,
            close_timeout=config.close_timeout,
            max_size=config.max_message_size,
            logger=RedactingLogger(_wire_logger, secrets),
        )
    except (WebSocketException, OSError, TimeoutError) as exc:
        failure = translate_connect_error(exc, target.url, secrets)
    if failure is not None:
        raise failure[0] from failure[1]
    if not config.wait_for_session_created:
        return ws, []
    try:
        events = await _await_session_created(ws, target.shape, config.session_created_timeout, secrets)
    except BaseException:
        await ws.close()
        raise
    return ws, events

"""Per-connection pieces of the session client: the hook's handle, why a connection ended, reconnecting."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from voxpipe.errors import ConnectionFailedError
from voxpipe.realtime.client._config import ConnectTarget, RealtimeClientConfig
from voxpipe.realtime.client._connect import open_connection
from voxpipe.realtime.client._errors import (
    CloseAction,
    ErrorClassification,
    RealtimeServerError,
    ReconnectExhaustedError,
    SessionExpiredError,
    classify_close,
    classify_error,
)
from voxpipe.realtime.client._notices import ClientNotice, ConnectReason, encode_event, event_type
from voxpipe.realtime.client._redact import redact

__all__ = [
    "ConnectionEnd", "ConnectionInfo", "OnConnected", "fatal_error", "next_reason", "reconnect", "run_hook",
    "stop_task",
]

logger = logging.getLogger(__name__)


class ConnectionInfo:
    """What ``on_connected`` gets: why this connection was made, and a way to send ahead of the queue.

    Attributes:
        reason: ``INITIAL``, ``RECONNECT`` or ``ROTATION``.
        connection: 1-based number of this connection in the client's life.
        session_created: the new session's ``session.created`` event (``None`` when the client was told
            not to wait for it); it is also delivered to the consumer.
    """

    __slots__ = ("_ws", "connection", "reason", "session_created")

    def __init__(
        self, *, reason: ConnectReason, connection: int, ws: ClientConnection, session_created: Any = None
    ) -> None:
        self.reason = reason
        self.connection = connection
        self.session_created = session_created
        self._ws = ws

    def __repr__(self) -> str:
        return f"ConnectionInfo(reason={self.reason.value}, connection={self.connection})"

    async def send(self, event: Any) -> None:
        """Send ``event`` now, on this connection, before anything queued with ``client.send()``.

        Raises:
            VoxpipeUsageError: the event cannot be serialised.
            websockets.exceptions.ConnectionClosed: the link dropped; let it propagate, the client
                reconnects and calls the hook again.
        """
        text = encode_event(event)
        await self._ws.send(text)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("replayed %s (%d bytes)", event_type(event), len(text))


#: The ``on_connected`` hook: awaited after each (re)connection, before queued sends go out.
OnConnected = Callable[[ConnectionInfo], Awaitable[None]]


@dataclass(slots=True)
class ConnectionEnd:
    """Why one connection ended; filled in by its reader and writer."""

    finished: bool = False
    in_hook: bool = False
    close_code: int | None = None
    close_reason: str = ""
    error: ErrorClassification | None = None
    hook_error: BaseException | None = field(default=None)
    rotate: bool = False
    """The client ended the connection itself to start a fresh session (``RealtimeClient.rotate()``)."""

    def error_for_connect(self) -> BaseException:
        """The error ``connect()`` raises when the first connection ended before it was ready."""
        if self.hook_error is not None:
            return self.hook_error
        if self.error is not None:
            return RealtimeServerError(
                f"the server refused the session: {self.error.code}: {self.error.message}", self.error
            )
        return ConnectionFailedError(
            f"the connection closed (code {self.close_code}) before it was ready",
            code=str(self.close_code),
            retryable=True,
        )


async def run_hook(
    hook: OnConnected,
    info: ConnectionInfo,
    ws: ClientConnection,
    end: ConnectionEnd,
    timeout: float,
) -> None:
    """Run ``on_connected`` for one connection, recording a failure in ``end`` instead of raising.

    A dropped link inside the hook is not the hook's fault: the reader records the close and the client
    reconnects. Any other exception (including the timeout) ends the session and reaches the owner.
    The reader cancels this while it runs if the socket closes (``end.in_hook``).
    """
    end.in_hook = True
    try:
        async with asyncio.timeout(timeout):
            await hook(info)
    except ConnectionClosed:
        return
    except Exception as exc:
        end.hook_error = exc
        await ws.close(1011, "on_connected failed")
    finally:
        end.in_hook = False


async def reconnect(
    config: RealtimeClientConfig,
    target: ConnectTarget,
    rng: random.Random,
    reason: ConnectReason,
    name: str,
) -> tuple[ClientConnection, list[Any], int]:
    """Open a new connection with exponential backoff and jitter.

    A rotation's first attempt starts at once (the old session ended on schedule, not by trouble).
    Cancelling is safe.

    Args:
        config: settings, including the reconnect policy.
        target: URL, headers and subprotocols.
        rng: source of jitter.
        reason: ``RECONNECT`` or ``ROTATION``.
        name: the client's name, for logs.

    Returns:
        The connection, the events read during its handshake, and the number of attempts used.

    Raises:
        ReconnectExhaustedError: every attempt failed, or the policy allows none.
        ConnectionFailedError: an attempt failed in a way retrying cannot fix (e.g. HTTP 401).
        RealtimeServerError: the server refused the new session with a fatal error.
    """
    policy = config.reconnect
    last: ConnectionFailedError | None = None
    for attempt in range(1, policy.max_attempts + 1):
        delay = 0.0 if reason is ConnectReason.ROTATION and attempt == 1 else policy.delay(attempt, rng)
        logger.info(
            "%s: %s attempt %d of %d in %.3f s", name, reason.value, attempt, policy.max_attempts, delay
        )
        await asyncio.sleep(delay)
        try:
            ws, events = await open_connection(config, target)
        except ConnectionFailedError as exc:
            if not exc.retryable:
                raise
            logger.warning("%s: %s attempt %d failed: %s", name, reason.value, attempt, exc)
            last = exc
        else:
            return ws, events, attempt
    if policy.max_attempts == 0:
        raise ReconnectExhaustedError(
            "the connection dropped and reconnecting is off (ReconnectPolicy.max_attempts=0)",
            code="reconnect_disabled",
        )
    raise ReconnectExhaustedError(
        f"the connection dropped and {policy.max_attempts} reconnect attempts failed; last: {last}",
        code=last.code if last is not None else None,
    ) from last


def next_reason(end: ConnectionEnd, config: RealtimeClientConfig) -> ConnectReason:
    """Decide how to come back after a connection ended, or raise why the session is over.

    Args:
        end: why the connection ended.
        config: the client settings (``rotate_on_expiry``, secrets to redact).

    Returns:
        ``RECONNECT`` after a drop, ``ROTATION`` after a session expiry (when rotation is on).

    Raises:
        SessionExpiredError: the session expired and rotation is off.
        RealtimeServerError: a fatal error event or close code.
        Exception: whatever ``on_connected`` raised.
    """
    if end.hook_error is not None:
        raise end.hook_error
    if end.rotate and end.error is None:
        return ConnectReason.ROTATION
    verdict = end.error
    if verdict is None:
        close = classify_close(end.close_code, end.close_reason)
        if close.action is CloseAction.RECONNECT:
            return ConnectReason.RECONNECT
        verdict = ErrorClassification(
            code=close.error_code or str(close.code),
            type=None,
            message=close.reason,
            recoverable=False,
            fatal=True,
            rotate=close.action is CloseAction.ROTATE,
        )
    said = redact(verdict.message, config.secrets)
    message = f"the server ended the session: {verdict.code}: {said}"
    if verdict.rotate:
        if config.rotate_on_expiry:
            return ConnectReason.ROTATION
        raise SessionExpiredError(message + " (rotate_on_expiry is off)", verdict)
    raise RealtimeServerError(message, verdict)


async def stop_task(task: asyncio.Task[None], timeout: float) -> None:
    """Cancel ``task`` and wait for it to end, at most ``timeout`` seconds; log a failure it ended with.

    Waiting goes through ``asyncio.wait``, so the task's own ``CancelledError`` is not raised here,
    while a cancellation of the caller still is.
    """
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        logger.error("task %s did not stop within %.1f s", task.get_name(), timeout)
    elif not task.cancelled() and task.exception() is not None:
        logger.error("task %s failed: %r", task.get_name(), task.exception())


def fatal_error(event: Any, name: str) -> ErrorClassification | None:
    """Classify ``event`` if it is a server ``error``; return the verdict only when it is fatal.

    Args:
        event: a received event or notice.
        name: the client's name, for logs.
    """
    if event_type(event) != "error" or isinstance(event, ClientNotice):
        return None
    verdict = classify_error(event)
    kind = "fatal" if verdict.fatal else "recoverable"
    logger.warning("%s: server error %s (%s)", name, verdict.code, kind)
    return verdict if verdict.fatal else None

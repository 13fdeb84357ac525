"""``RealtimeClient``: one realtime WebSocket session, kept alive, no pipeline needed.

Usage::

    config = RealtimeClientConfig(api_key=key, variant=RealtimeVariant.OPENAI_GA)

    async def replay(conn: ConnectionInfo) -> None:
        await conn.send({"type": "session.update", "session": {...}})   # goes before queued sends

    async with RealtimeClient(config, on_connected=replay) as client:
        client.send({"type": "response.create"})
        async for event in client:
            ...   # typed server events, plus ClientNotice objects (Reconnected, MalformedFrame, ...)

Tasks: one supervisor per client (made by ``connect()``, cancelled and awaited by ``close()``) owns, per
connection, an ``asyncio.TaskGroup`` of one reader and one writer. A session failure (fatal server error,
reconnects exhausted, ``on_connected`` raising) ends the event stream: the iterator raises it last.

What "sent" means: an event counts as sent once ``websockets`` accepted it on an open connection
(``ws.send()`` returned); it leaves the queue only then. An event whose ``ws.send()`` raised because the
link dropped stays at the head of the queue and is sent once on the next connection, after
``on_connected``. Events sent before a drop are never sent again: the bytes may have been lost in flight,
but the server session they belonged to is gone too, and replaying state is the job of ``on_connected``
(:meth:`RealtimeClient.pending_of` tells it which of its events are still queued, so it replays only the
ones the dead session took with it).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections import deque
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from voxpipe.errors import OperationTimeoutError, VoxpipeStateError, VoxpipeWorldError
from voxpipe.realtime.client._config import (
    RealtimeClientConfig,
    build_target,
)
from voxpipe.realtime.client._connect import open_connection
from voxpipe.realtime.client._connection import (
    ConnectionEnd,
    ConnectionInfo,
    OnConnected,
    fatal_error,
    next_reason,
    reconnect,
    run_hook,
    stop_task,
)
from voxpipe.realtime.client._notices import (
    ConnectionLost,
    ConnectReason,
    Reconnected,
    decode_frame,
    encode_event,
    event_type,
)
from voxpipe.realtime.client._redact import mask_secret, redact
from voxpipe.realtime.client._state import MOVES, ClientState
from voxpipe.realtime.client._stream import EventStream

__all__ = ["RealtimeClient"]

logger = logging.getLogger(__name__)
_ids = itertools.count(1)


class RealtimeClient:
    """One realtime session over a WebSocket, with reconnect, rotation and error classification.

    Args:
        config: where to connect and how (see :class:`RealtimeClientConfig`).
        on_connected: awaited after every (re)connection, before queued sends go out; use
            ``ConnectionInfo.send`` in it to replay session config, tools and conversation items first.
        rng: random source for the backoff jitter (pass a seeded one for reproducible tests).

    Raises:
        VoxpipeUsageError: the config cannot produce a valid URL.
    """

    def __init__(
        self,
        config: RealtimeClientConfig,
        *,
        on_connected: OnConnected | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._target = build_target(config)
        self._on_connected = on_connected
        self._rng = rng or random.Random()
        self._name = f"RealtimeClient-{next(_ids)}"
        self._state = ClientState.IDLE
        self._outbox: deque[tuple[str, str]] = deque()  # (type, JSON text), oldest first
        self._outbox_ready = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._events = EventStream(self._name, config.max_pending_events)
        self._supervisor: asyncio.Task[None] | None = None
        self._started: asyncio.Future[None] | None = None
        self._ws: ClientConnection | None = None
        self._end: ConnectionEnd | None = None
        self._opening: asyncio.Task[tuple[ClientConnection, list[Any]]] | None = None
        self._connections = 0

    def __repr__(self) -> str:
        """Name, state, URL and a masked key: safe to log."""
        return (
            f"<{self._name} state={self._state.value} variant={self._config.variant.name} "
            f"url={redact(self._target.url, self._config.secrets)!r} "
            f"api_key={mask_secret(self._config.api_key)!r}>"
        )

    @property
    def state(self) -> ClientState:
        """The current state."""
        return self._state

    @property
    def pending_events(self) -> int:
        """Events read from the socket and not yet taken (at most ``max_pending_events``, plus notices)."""
        return len(self._events)

    @property
    def pending(self) -> int:
        """Events queued by :meth:`send` and not yet handed to the socket."""
        return len(self._outbox)

    def pending_of(self, event_type: str) -> int:
        """Events of ``event_type`` queued by :meth:`send` and not yet handed to the socket.

        They go out on the next connection; the ones of that type sent before them went to the socket
        and, after a lost link, died with its server session (what ``on_connected`` may replay).
        """
        return sum(1 for kind, _ in self._outbox if kind == event_type)

    def _set_state(self, new: ClientState) -> None:
        old = self._state
        if new not in MOVES[old]:
            raise VoxpipeStateError(f"{self._name}: cannot go from {old.value} to {new.value}")
        self._state = new
        logger.info("%s: %s -> %s", self._name, old.value, new.value)

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the session; return once it is connected and ``on_connected`` has run.

        Cancelling is safe: the client is closed and nothing is left running.

        Raises:
            VoxpipeStateError: the client is not idle (a client serves one session; make a new one).
            ConnectionFailedError: the server could not be reached or refused the upgrade.
            ConnectTimeoutError: the handshake or ``session.created`` took too long.
            RealtimeServerError: the server sent a fatal error (bad key, model, quota, protocol variant).
            Exception: whatever ``on_connected`` raised on the first connection.
        """
        if self._state is not ClientState.IDLE:
            raise VoxpipeStateError(
                f"{self._name}.connect() needs an idle client, it is {self._state.value}; "
                "use one RealtimeClient per session"
            )
        self._set_state(ClientState.CONNECTING)
        try:
            ws, first_events = await self._open_first()
            self._started = asyncio.get_running_loop().create_future()
            self._supervisor = asyncio.create_task(
                self._supervise(ws, first_events), name=f"{self._name}.supervisor"
            )
            await self._started
        except BaseException:
            await self.close()
            raise

    async def _open_first(self) -> tuple[ClientConnection, list[Any]]:
        """Open the first connection in a task of its own, so that ``close()`` can stop it."""
        opening = asyncio.create_task(open_connection(self._config, self._target), name=f"{self._name}.open")
        self._opening = opening
        try:
            return await opening
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if opening.cancelled() and task is not None and not task.cancelling():
                raise VoxpipeStateError(f"{self._name} was closed while connecting") from None
            raise
        finally:
            self._opening = None

    def send(self, event: Any) -> None:
        """Queue a client event (typed, or a dict with a string ``type``); never blocks.

        Events go out in call order, also across reconnects (see the module docstring for what "sent"
        means). Events queued before ``connect()`` go out after the first ``on_connected``.

        Raises:
            VoxpipeUsageError: the event cannot be serialised.
            VoxpipeStateError: the client is closing or closed.
        """
        if self._state in (ClientState.CLOSING, ClientState.CLOSED):
            raise VoxpipeStateError(f"{self._name}.send() called while {self._state.value}")
        text = encode_event(event)
        self._outbox.append((event_type(event) or "", text))
        self._drained.clear()
        self._outbox_ready.set()
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: queued %s (%d bytes)", self._name, event_type(event), len(text))

    async def rotate(self, reason: str = "rotating to a fresh session") -> bool:
        """End the current server session and go on with a fresh one, as after a server expiry.

        The socket is closed with code 1000; the client reconnects at once (``ConnectReason.ROTATION``),
        ``on_connected`` replays the state, and queued sends go out on the new session. Use it to rotate
        between answers, before the server's own time limit cuts one.

        Returns:
            Whether a rotation started (False when not connected, e.g. already reconnecting).
        """
        ws, end = self._ws, self._end
        if self._state is not ClientState.CONNECTED or ws is None or end is None or end.finished:
            return False
        logger.info("%s: rotating to a fresh session (%s)", self._name, reason)
        end.rotate = True
        await ws.close(1000, reason)
        return True

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued event was handed to the socket.

        Raises:
            OperationTimeoutError: events were still queued after ``timeout`` seconds.
            VoxpipeStateError: the client closed with events still queued.
        """
        try:
            async with asyncio.timeout(timeout):
                await self._drained.wait()
        except TimeoutError:
            left = len(self._outbox)
            raise OperationTimeoutError(f"{self._name}: {left} events queued after {timeout} s") from None
        if self._outbox:
            raise VoxpipeStateError(f"{self._name} closed with {len(self._outbox)} events unsent")

    def __aiter__(self) -> Self:
        return self

    def events(self) -> Self:
        """Return the client itself, as an async iterator of events: ``async for e in client.events()``."""
        return self

    async def __anext__(self) -> Any:
        return await self._events.next_or_stop()

    async def recv(self, timeout: float | None = None) -> Any:
        """Return the next server event or :class:`ClientNotice`. Cancelling is safe: nothing is lost.

        Raises:
            OperationTimeoutError: nothing arrived within ``timeout`` seconds.
            VoxpipeStateError: the session was closed with ``close()`` and every event was read.
            VoxpipeWorldError: the session failed (the same error the iterator raises).
        """
        return await self._events.recv(timeout)

    async def close(self) -> None:
        """Close the session and stop every task; safe to call twice and from any state.

        Queued sends that were not yet written are dropped (call :meth:`flush` first to wait for them).
        Bounded by ``config.close_timeout`` (twice over at most: socket, then tasks).
        """
        if self._state in (ClientState.CLOSING, ClientState.CLOSED):
            if self._supervisor is not None and asyncio.current_task() is not self._supervisor:
                await asyncio.wait({self._supervisor}, timeout=self._config.close_timeout)
            return
        self._set_state(ClientState.CLOSING)
        if self._opening is not None:
            self._opening.cancel()
        ws = self._ws
        try:
            if ws is not None:
                try:
                    async with asyncio.timeout(self._config.close_timeout):
                        await ws.close()
                except TimeoutError:
                    logger.warning("%s: socket did not close in time; dropping it", self._name)
        finally:
            if self._supervisor is not None and self._supervisor is not asyncio.current_task():
                await stop_task(self._supervisor, self._config.close_timeout)
            self._finish(None)

    def _finish(self, error: BaseException | None) -> None:
        """Move to ``closed`` and end the stream of events, with ``error`` if the session failed."""
        if self._state is ClientState.CLOSED:
            return
        if self._state is not ClientState.CLOSING:
            self._set_state(ClientState.CLOSING)
        self._set_state(ClientState.CLOSED)
        if self._started is not None and not self._started.done():
            self._started.set_exception(error or VoxpipeStateError(f"{self._name} closed while connecting"))
        self._drained.set()
        self._events.end(error)

    async def _supervise(self, ws: ClientConnection, first_events: list[Any]) -> None:
        """Serve connections one after the other until close(), a fatal error or exhausted retries."""
        reason, attempts, events = ConnectReason.INITIAL, 1, first_events
        try:
            while True:
                end = await self._serve(ws, events, reason, attempts)
                if self._state is ClientState.CLOSING:
                    return
                if self._started is not None and not self._started.done():
                    raise end.error_for_connect()
                reason = next_reason(end, self._config)
                if self._state is ClientState.CONNECTED:  # a link lost during replay is still reconnecting
                    self._set_state(ClientState.RECONNECTING)
                self._events.put(ConnectionLost(code=end.close_code, reason=end.close_reason, next=reason))
                ws, events, attempts = await reconnect(
                    self._config, self._target, self._rng, reason, self._name
                )
        except VoxpipeWorldError as exc:
            logger.error("%s: session failed: %s", self._name, exc)
            self._finish(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("%s: session ended by an unexpected error", self._name)
            self._finish(exc)

    async def _serve(
        self, ws: ClientConnection, first_events: list[Any], reason: ConnectReason, attempts: int
    ) -> ConnectionEnd:
        """Run one connection's reader and writer until it ends; return why it ended."""
        self._connections += 1
        self._ws = ws
        end = self._end = ConnectionEnd()
        created = next((e for e in first_events if event_type(e) == "session.created"), None)
        for event in first_events:
            self._events.put(event)
        try:
            async with asyncio.TaskGroup() as tg:
                writer = tg.create_task(
                    self._writer(ws, end, reason, attempts, created),
                    name=f"{self._name}.writer-{self._connections}",
                )
                tg.create_task(self._reader(ws, end, writer), name=f"{self._name}.reader-{self._connections}")
        finally:
            self._ws = None
            if ws.state is not State.CLOSED:  # cancelled (by close()) before the socket closed: drop it
                ws.transport.abort()
        return end

    async def _reader(self, ws: ClientConnection, end: ConnectionEnd, writer: asyncio.Task[None]) -> None:
        """Turn frames into events until the socket closes or a fatal error arrives."""
        shape = self._target.shape
        try:
            async for raw in ws:
                event = decode_frame(raw, shape)
                self._events.put(event)
                end.error = fatal_error(event, self._name)
                if end.error is not None:
                    await ws.close()
                    break
                await self._events.wait_for_room()
        except ConnectionClosed:
            pass
        finally:
            end.finished = True
            self._outbox_ready.set()
            if end.in_hook:
                writer.cancel()
        end.close_code = ws.close_code
        end.close_reason = ws.close_reason or ""
        logger.info("%s: connection closed (code %s)", self._name, end.close_code)

    async def _writer(
        self, ws: ClientConnection, end: ConnectionEnd, reason: ConnectReason, attempts: int, created: Any
    ) -> None:
        """Run ``on_connected``, then hand queued events to the socket, in order, one at a time."""
        if self._on_connected is not None:
            info = ConnectionInfo(reason=reason, connection=self._connections, ws=ws, session_created=created)
            await run_hook(self._on_connected, info, ws, end, self._config.hook_timeout)
        if end.finished or end.hook_error is not None or self._state is ClientState.CLOSING:
            return
        self._set_state(ClientState.CONNECTED)
        if reason is not ConnectReason.INITIAL:
            notice = Reconnected(reason=reason, connection=self._connections, attempts=attempts,
                                 pending=len(self._outbox))
            self._events.put(notice)
        if self._started is not None and not self._started.done():
            self._started.set_result(None)
        while not end.finished:
            if not self._outbox:
                self._outbox_ready.clear()
                await self._outbox_ready.wait()
                continue
            try:
                await ws.send(self._outbox[0][1])
            except ConnectionClosed:
                return  # not sent: stays at the head, goes out on the next connection
            self._outbox.popleft()
            if not self._outbox:
                self._drained.set()

"""The peer a WebSocket transport talks to right now, shared by its input and output processors.

The input side attaches a connection when a peer arrives and detaches it when the peer goes; the output
side sends through whatever is attached. Keeping that in one object, with one state, means the two
processors never disagree about whether someone is listening.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed

from voxpipe.errors import VoxpipeStateError

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.serializers.base import FrameSerializer

__all__ = ["LinkState", "WebsocketLink"]

logger = logging.getLogger(__name__)


class LinkState(enum.Enum):
    """Whether a transport has a peer."""

    IDLE = "idle"
    """No peer yet, or the last one left (a server may get another)."""
    CONNECTED = "connected"
    """A peer is attached; sends reach it."""
    CLOSED = "closed"
    """The transport shut down; no peer will be attached again."""


_MOVES: dict[LinkState, frozenset[LinkState]] = {
    LinkState.IDLE: frozenset({LinkState.CONNECTED, LinkState.CLOSED}),
    LinkState.CONNECTED: frozenset({LinkState.IDLE, LinkState.CLOSED}),
    LinkState.CLOSED: frozenset(),
}


class WebsocketLink:
    """The current connection of a transport, its serializer, and who to tell when the peer leaves.

    Args:
        name: the transport's name, for logs.
        serializer: the wire format of every connection of this transport.
        close_timeout_s: how long closing a connection waits for the peer's handshake.
    """

    def __init__(self, name: str, serializer: FrameSerializer, *, close_timeout_s: float) -> None:
        self.name = name
        self.serializer = serializer
        self._close_timeout = close_timeout_s
        self._state = LinkState.IDLE
        self._connection: Connection | None = None
        self._on_detach: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"<WebsocketLink {self.name} {self._state.value}>"

    @property
    def state(self) -> LinkState:
        """Whether a peer is attached."""
        return self._state

    @property
    def connection(self) -> Connection | None:
        """The attached connection, if any."""
        return self._connection

    def _set_state(self, new: LinkState) -> None:
        old = self._state
        if new is old:
            return
        if new not in _MOVES[old]:
            raise VoxpipeStateError(f"{self.name}: link cannot move from {old.value} to {new.value}")
        self._state = new
        logger.debug("%s: link %s -> %s", self.name, old.value, new.value)

    def add_detach_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (synchronously) whenever the attached peer goes away."""
        self._on_detach.append(listener)

    def attach(self, connection: Connection) -> None:
        """Make ``connection`` the peer; the serializer starts afresh for it.

        Raises:
            VoxpipeStateError: a peer is already attached, or the link is closed.
        """
        self._set_state(LinkState.CONNECTED)
        self._connection = connection
        self.serializer.reset()

    def detach(self, connection: Connection) -> bool:
        """Forget ``connection`` if it is the attached peer; tell the listeners. Returns whether it was."""
        if self._connection is not connection:
            return False
        self._connection = None
        if self._state is LinkState.CONNECTED:
            self._set_state(LinkState.IDLE)
        self._notify_detached()
        return True

    def close(self) -> None:
        """No more peers: the transport is shutting down."""
        had_peer = self._connection is not None
        self._connection = None
        self._set_state(LinkState.CLOSED)
        if had_peer:
            self._notify_detached()

    def _notify_detached(self) -> None:
        for listener in self._on_detach:
            listener()

    async def send(self, message: str | bytes) -> bool:
        """Send one message to the peer. Returns False when there is none or it is gone.

        A failed send does not detach the peer: the reading side sees the closure and does that, once.
        Safe to cancel between messages (a whole message is written before the drain is awaited).
        """
        connection = self._connection
        if connection is None:
            return False
        try:
            await connection.send(message)
        except ConnectionClosed:
            return False
        return True

    async def close_connection(self, code: int = 1000, reason: str = "") -> None:
        """Close the attached connection (if any), waiting at most ``close_timeout_s`` for the peer."""
        connection = self._connection
        if connection is not None:
            await close_quietly(connection, code, reason, self._close_timeout)


async def close_quietly(connection: Connection, code: int, reason: str, timeout: float) -> None:
    """Close a connection; a peer that does not answer the closing handshake in time is cut off."""
    try:
        async with asyncio.timeout(timeout):
            await connection.close(code, reason)
    except TimeoutError:
        logger.info("closing handshake not answered in %.1f s; aborting the connection", timeout)
        connection.transport.abort()

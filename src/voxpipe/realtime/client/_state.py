"""The life of a session client as an enum, with the moves allowed between states."""

from __future__ import annotations

import enum

__all__ = ["MOVES", "ClientState"]


class ClientState(enum.Enum):
    """Life of a :class:`RealtimeClient`; a client is used for one session and not reopened."""

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSING = "closing"
    CLOSED = "closed"


MOVES: dict[ClientState, frozenset[ClientState]] = {
    ClientState.IDLE: frozenset({ClientState.CONNECTING, ClientState.CLOSING}),
    ClientState.CONNECTING: frozenset({ClientState.CONNECTED, ClientState.CLOSING}),
    ClientState.CONNECTED: frozenset({ClientState.RECONNECTING, ClientState.CLOSING}),
    ClientState.RECONNECTING: frozenset({ClientState.CONNECTED, ClientState.CLOSING}),
    ClientState.CLOSING: frozenset({ClientState.CLOSED}),
    ClientState.CLOSED: frozenset(),
}

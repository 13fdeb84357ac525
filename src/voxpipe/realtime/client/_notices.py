"""What the session client yields besides server events, and the frame codec it uses.

The client's stream carries the server's typed events plus a few *notices* made by the client itself
(the link dropped, the session came back, a frame could not be read). Notices have a ``type`` like events
(``"voxpipe.reconnected"``, ...), so a consumer can dispatch on ``event.type`` through one table; the
``voxpipe.`` prefix never clashes with a protocol name.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from voxpipe.errors import VoxpipeUsageError
from voxpipe.realtime.client._errors import MalformedFrameError

__all__ = [
    "ClientNotice",
    "ConnectReason",
    "ConnectionLost",
    "MalformedFrame",
    "Reconnected",
    "decode_frame",
    "encode_event",
    "event_type",
]

logger = logging.getLogger(__name__)


class ConnectReason(enum.Enum):
    """Why a connection was opened; given to ``on_connected`` and in :class:`Reconnected`."""

    INITIAL = "initial"
    """The first connection, made by ``connect()``."""
    RECONNECT = "reconnect"
    """The socket dropped; this is a new connection, and a new server session."""
    ROTATION = "rotation"
    """The server ended the session at its time limit; this is a fresh session."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientNotice:
    """Base of the events made by the client itself; ``type`` starts with ``voxpipe.``."""

    type: ClassVar[str] = "voxpipe.notice"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionLost(ClientNotice):
    """The socket closed without ``close()`` being called; the client is about to reconnect.

    Attributes:
        code: the close code (``None`` or 1006 when the link died without one).
        reason: the close reason, if any.
        next: how the client comes back (``RECONNECT`` or ``ROTATION``).
    """

    type: ClassVar[str] = "voxpipe.connection_lost"
    code: int | None
    reason: str
    next: ConnectReason


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconnected(ClientNotice):
    """A new connection is up, ``on_connected`` has run, and queued sends are being flushed.

    The server side is a *new session*: its conversation is empty unless ``on_connected`` replayed it.

    Attributes:
        reason: ``RECONNECT`` after a drop, ``ROTATION`` after a session expiry.
        connection: 1-based number of this connection in the client's life.
        attempts: connection attempts this recovery took.
        pending: events queued by ``send()`` that are flushed now (including one whose write had failed).
    """

    type: ClassVar[str] = "voxpipe.reconnected"
    reason: ConnectReason
    connection: int
    attempts: int
    pending: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MalformedFrame(ClientNotice):
    """The server sent a frame that is not a readable event; it was skipped and the session goes on.

    Attributes:
        error: what was wrong (a recoverable :class:`MalformedFrameError`).
        size: length of the frame in bytes or characters (the body is never kept: it may be audio).
        binary: the frame was a binary frame (events only travel in text frames).
    """

    type: ClassVar[str] = "voxpipe.malformed_frame"
    error: MalformedFrameError
    size: int
    binary: bool


def event_type(event: Any) -> str | None:
    """Return the ``type`` of a typed event, a notice or a dict (``None`` if it has none)."""
    value = event.get("type") if isinstance(event, Mapping) else getattr(event, "type", None)
    return value if isinstance(value, str) else None


def encode_event(event: Any) -> str:
    """Serialise a client event for the wire: typed events via ``serialize_event``, dicts via JSON.

    Args:
        event: a typed client event or a dict with a string ``type``.

    Returns:
        The JSON text of the event.

    Raises:
        VoxpipeUsageError: the event has no string ``type`` or cannot be serialised.
    """
    if isinstance(event, Mapping):
        if not isinstance(event.get("type"), str):
            raise VoxpipeUsageError("a client event dict needs a string 'type'")
        try:
            return json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise VoxpipeUsageError(f"event {event['type']!r} cannot be sent as JSON: {exc}") from exc
    from voxpipe.realtime import serialize_event

    try:
        wire = serialize_event(event)
    except (TypeError, ValueError) as exc:
        raise VoxpipeUsageError(f"{type(event).__name__} cannot be serialised: {exc}") from exc
    if isinstance(wire, bytes):
        return wire.decode()
    if isinstance(wire, str):
        return wire
    return json.dumps(wire, separators=(",", ":"), ensure_ascii=False)


def _malformed(message: str, code: str, size: int, *, binary: bool = False) -> MalformedFrame:
    logger.warning("skipping malformed server frame (%s, %d bytes)", code, size)
    error = MalformedFrameError(message, code=code, recoverable=True)
    return MalformedFrame(error=error, size=size, binary=binary)


def decode_frame(raw: str | bytes, shape: str) -> Any:
    """Turn one received frame into a typed server event, or a :class:`MalformedFrame` notice.

    Never raises for bad input: a bad frame must not end the session. Unknown event types come back as
    ``UnknownServerEvent`` from the parser.

    Args:
        raw: the frame as websockets delivered it.
        shape: ``"beta"`` or ``"ga"``.

    Returns:
        The typed event or the notice.
    """
    if isinstance(raw, bytes):
        return _malformed("the server sent a binary frame; events travel in text frames", "binary_frame",
                          len(raw), binary=True)
    from voxpipe.realtime import parse_server_event

    try:
        data = json.loads(raw)
    except ValueError:
        return _malformed("the server sent a text frame that is not JSON", "invalid_json", len(raw))
    except RecursionError:
        return _malformed("the server sent JSON nested too deeply to read", "too_deep", len(raw))
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return _malformed("the server sent JSON that is not an object with a string 'type'",
                          "invalid_event", len(raw))
    try:
        event = parse_server_event(data, shape=shape)
    except RecursionError:
        return _malformed(f"the server event {data['type']!r} is nested too deeply to read", "too_deep",
                          len(raw))
    except ValueError as exc:
        # Pydantic messages quote the input, which may hold audio or text: keep only the parser's own words.
        code = getattr(exc, "code", None) or "invalid_event"
        detail = getattr(exc, "message", None) or type(exc).__name__
        return _malformed(f"the server event {data['type']!r} could not be read: {detail}", code, len(raw))
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("received %s (%d bytes)", data["type"], len(raw))
    return event

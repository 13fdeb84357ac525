"""Reading realtime events: fast on the hot path, tolerant with servers, strict with clients.

Policy, by direction:

* **Server events** (what a client receives) are parsed *tolerantly*. An unknown ``type`` becomes
  :class:`UnknownServerEvent` holding the whole message. A known event whose fields fail validation
  (a server that sends ``null`` where the SDK says string, a new enum value...) is still built as
  its own class: fields that validate are typed, the rest keep their raw JSON value, and required
  fields that are missing are simply absent (reading them raises ``AttributeError``). This is the
  same "loose" construction openai-python uses on receive. Both cases are logged once per event
  type at WARNING, with the type and the field path, never the payload.
* **Client events** are parsed tolerantly too by default; the local server passes ``strict=True``
  and gets :class:`EventValidationError` (with the protocol ``code`` and ``param``) for unknown
  types, wrong or missing fields, and unknown parameters, so it can answer with an ``error`` event.
* Input that is not a JSON object with a string ``type`` always raises :class:`EventParseError`.

Speed: a message whose text starts with ``{"type":"`` (every OpenAI server message does) is
dispatched by a dict lookup on that type and validated by pydantic-core straight from the text:
no ``json.loads``, no trial of union members.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

from pydantic import ValidationError

from voxpipe.errors import VoxpipeUsageError
from voxpipe.realtime import _loose
from voxpipe.realtime._base import EventBase
from voxpipe.realtime._errors import EventParseError, EventValidationError
from voxpipe.realtime._unknown import UnknownClientEvent, UnknownServerEvent
from voxpipe.realtime.beta import events as beta_events

if TYPE_CHECKING:
    from voxpipe.realtime.beta.events import ClientEvent, ServerEvent
    from voxpipe.realtime.ga import events as ga_types

__all__ = ["Shape", "parse_client_event", "parse_server_event"]

logger = logging.getLogger(__name__)

Shape: TypeAlias = Literal["beta", "ga"]
"""Protocol shape: ``beta`` (``OpenAI-Beta: realtime=v1``) or ``ga``."""

EventTable: TypeAlias = dict[str, type[EventBase]]

_MAX_WARNED = 256
_warned: set[tuple[str, str]] = set()


def _warn_once(kind: str, event_type: str, message: str, *args: object) -> None:
    """Log ``message`` at WARNING the first time ``(kind, event_type)`` is seen (bounded memory)."""
    key = (kind, event_type)
    if key in _warned or len(_warned) >= _MAX_WARNED:
        return
    _warned.add(key)
    logger.warning(message, *args)


def _tables(shape: str) -> tuple[EventTable, EventTable]:
    """Return the (server, client) ``type`` → model tables of a shape; GA is imported on first use."""
    if shape == "beta":
        return beta_events.SERVER_EVENT_TYPES, beta_events.CLIENT_EVENT_TYPES
    if shape == "ga":
        from voxpipe.realtime.ga import events as ga_events

        return ga_events.SERVER_EVENT_TYPES, ga_events.CLIENT_EVENT_TYPES
    raise VoxpipeUsageError(f"Unknown protocol shape {shape!r}: use 'beta' or 'ga'.")


_BETA_SERVER: EventTable = beta_events.SERVER_EVENT_TYPES
# Bound ``validate_json`` of each beta server event model, filled on first use (models build their
# validators lazily): the audio-delta hot path skips two attribute lookups per message.
_BETA_SERVER_JSON: dict[str, Callable[[str], Any]] = {}


def _beta_validator(event_type: str) -> Callable[[str], Any] | None:
    """Return (and cache) the JSON validator of a beta server event type, ``None`` if unknown."""
    cls = _BETA_SERVER.get(event_type)
    if cls is None:
        return None
    validate = _BETA_SERVER_JSON[event_type] = cls.__pydantic_validator__.validate_json
    return validate


def _peek_type(data: str | bytes) -> str | None:
    """Read the event type from a message that starts with its ``type`` key, else ``None``.

    Only the very first key is looked at, so a nested ``"type"`` can never be mistaken for the
    event's. Messages written differently simply take the slower path.
    """
    if isinstance(data, str):
        if data.startswith('{"type":"'):
            start = 9
        elif data.startswith('{"type": "'):
            start = 10
        else:
            return None
        end = data.find('"', start)
        return data[start:end] if end > 0 else None
    if not isinstance(data, bytes):
        return None
    if data.startswith(b'{"type":"'):
        start = 9
    elif data.startswith(b'{"type": "'):
        start = 10
    else:
        return None
    end = data.find(b'"', start)
    return data[start:end].decode("ascii", "replace") if end > 0 else None


def _load_object(data: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """Decode a message into a dict with a string ``type``, or raise :class:`EventParseError`."""
    if isinstance(data, dict):
        obj: Any = data
    elif isinstance(data, str | bytes | bytearray):
        try:
            obj = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EventParseError(
                f"Message is not valid JSON ({len(data)} bytes): {exc.__class__.__name__}.",
                code="invalid_json",
            ) from exc
    else:
        raise EventParseError(
            f"Expected JSON text, bytes or a dict, got {type(data).__name__}.", code="invalid_json"
        )
    if not isinstance(obj, dict):
        raise EventParseError(
            f"A realtime event must be a JSON object, got a JSON {type(obj).__name__}.",
            code="invalid_event",
        )
    event_type = obj.get("type")
    if not isinstance(event_type, str):
        raise EventParseError(
            "The 'type' field is missing." if event_type is None else "The 'type' field must be a string.",
            code="invalid_event",
        )
    return obj


def _tolerant(
    data: str | bytes | dict[str, Any],
    table: EventTable,
    unknown: type[EventBase],
    direction: str,
) -> EventBase:
    """Parse one event by the tolerant policy of the module docstring."""
    if not isinstance(data, dict):
        event_type = _peek_type(data)
        if event_type is not None:
            cls = table.get(event_type)
            if cls is not None:
                try:
                    return cls.__pydantic_validator__.validate_json(data)
                except ValidationError:
                    pass  # bad JSON or bad fields: the slow path below sorts out which
    raw = _load_object(data)
    event_type = raw["type"]
    cls = table.get(event_type)
    if cls is None:
        _warn_once(
            "unknown",
            event_type,
            "Unknown realtime %s event type %r: kept as %s",
            direction,
            event_type,
            unknown.__name__,
        )
        return unknown.model_construct(**raw)
    try:
        return cls.__pydantic_validator__.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_context=False, include_input=False)[0]
        _warn_once(
            "invalid",
            event_type,
            "Realtime %s event %r failed validation (%d errors, first %s at %r); built leniently",
            direction,
            event_type,
            exc.error_count(),
            first["type"],
            _loose.wire_path(first["loc"]),
        )
        return _loose.loose_construct(cls, raw)


def _strict(data: str | bytes | dict[str, Any], table: EventTable) -> EventBase:
    """Validate a client event strictly, raising :class:`EventValidationError` on any problem."""
    if not isinstance(data, dict):
        # Fast path: validate straight from the text; any failure is re-done below for the details.
        peeked = _peek_type(data)
        known = table.get(peeked) if peeked is not None else None
        if known is not None:
            try:
                fast: EventBase = known.__pydantic_validator__.validate_json(data, strict=True)
            except ValidationError:
                pass
            else:
                _check_extras(fast, fast.type, None)
                return fast
    raw = _load_object(data)
    event_type: str = raw["type"]
    event_id = raw.get("event_id") if isinstance(raw.get("event_id"), str) else None
    cls = table.get(event_type)
    if cls is None:
        raise EventValidationError(
            f"Invalid value: {event_type[:64]!r}. Supported values are: "
            + ", ".join(repr(t) for t in table)
            + ".",
            param="type",
            code="invalid_value",
            event_type=event_type,
            event_id=event_id,
        )
    try:
        event: EventBase = cls.__pydantic_validator__.validate_python(raw, strict=True)
    except ValidationError as exc:
        raise _loose.validation_error(exc, event_type, event_id) from exc
    _check_extras(event, event_type, event_id)
    return event


def _check_extras(event: EventBase, event_type: str, event_id: str | None) -> None:
    """Raise ``unknown_parameter`` for the first field no model declares (strict mode)."""
    extra_path = _loose.first_extra(event)
    if extra_path is not None:
        if event_id is None:
            candidate = getattr(event, "event_id", None)
            event_id = candidate if isinstance(candidate, str) else None
        raise EventValidationError(
            f"Unknown parameter: '{extra_path}'.",
            param=extra_path,
            code="unknown_parameter",
            event_type=event_type,
            event_id=event_id,
        )


@overload
def parse_server_event(
    data: str | bytes | dict[str, Any], *, shape: Literal["beta"] = "beta"
) -> ServerEvent: ...
@overload
def parse_server_event(
    data: str | bytes | dict[str, Any], *, shape: Literal["ga"]
) -> ga_types.ServerEvent: ...
@overload
def parse_server_event(
    data: str | bytes | dict[str, Any], *, shape: str
) -> ServerEvent | ga_types.ServerEvent: ...
def parse_server_event(
    data: str | bytes | dict[str, Any], *, shape: str = "beta"
) -> ServerEvent | ga_types.ServerEvent:
    """Parse one server event, tolerantly (see the module docstring).

    Args:
        data: one WebSocket text message, its UTF-8 bytes, or an already decoded dict.
        shape: ``"beta"`` or ``"ga"``; selects the event models.

    Returns:
        The typed event, or :class:`UnknownServerEvent` for a type this library does not know.
        For ``shape="ga"`` the models come from :mod:`voxpipe.realtime.ga`.

    Raises:
        EventParseError: not JSON, not an object, or no string ``type``.
    """
    server = _BETA_SERVER if shape == "beta" else _tables(shape)[0]
    if type(data) is str and data.startswith('{"type":"'):
        # The hot path (audio deltas): one lookup, one pydantic-core call, no intermediate dict.
        cls = server.get(data[9 : data.find('"', 9)])
        if cls is not None:
            try:
                return cls.__pydantic_validator__.validate_json(data)
            except ValidationError:
                pass  # the general path below finds out what is wrong
    return _tolerant(data, server, UnknownServerEvent, "server")  # type: ignore[return-value]


@overload
def parse_client_event(
    data: str | bytes | dict[str, Any], *, shape: Literal["beta"] = "beta", strict: bool = False
) -> ClientEvent: ...
@overload
def parse_client_event(
    data: str | bytes | dict[str, Any], *, shape: Literal["ga"], strict: bool = False
) -> ga_types.ClientEvent: ...
@overload
def parse_client_event(
    data: str | bytes | dict[str, Any], *, shape: str, strict: bool = False
) -> ClientEvent | ga_types.ClientEvent: ...
def parse_client_event(
    data: str | bytes | dict[str, Any], *, shape: str = "beta", strict: bool = False
) -> ClientEvent | ga_types.ClientEvent:
    """Parse one client event: tolerantly by default, strictly for a server that must answer errors.

    Args:
        data: one WebSocket text message, its UTF-8 bytes, or an already decoded dict.
        shape: ``"beta"`` or ``"ga"``.
        strict: reject unknown types, wrong types (no coercion: ``"5"`` is not an int), missing
            required fields and unknown parameters.

    Returns:
        The typed event; when not strict, :class:`UnknownClientEvent` for an unknown type.

    Raises:
        EventParseError: not JSON, not an object, or no string ``type``.
        EventValidationError: (strict only) the event does not match its model; ``param`` and
            ``code`` say where and how, ``event_id`` echoes the client's.
    """
    _, client = _tables(shape)
    if strict:
        return _strict(data, client)  # type: ignore[return-value]
    return _tolerant(data, client, UnknownClientEvent, "client")  # type: ignore[return-value]


def _reset_warnings_for_tests() -> None:
    """Forget which warnings were logged (tests check the log-once behaviour)."""
    _warned.clear()

"""Checking a client's JSON against the server's limits before the protocol models see it.

Why before: the models are built for well-formed events, not for a 100,000-level array (Python's
``json`` raises ``RecursionError``, pydantic and ``json.dumps`` of a tool schema would too), a million
keys, or a 100,000-character ``event_id`` echoed back whole in an ``error``. So every client event, and
the body of every key endpoint, goes through :func:`load_event` / :func:`check_event` first:

* **Structure**: nesting depth (``max_json_depth``) and number of values (``max_json_values``), found
  with an explicit stack (no recursion) that stops at the first breach: ``invalid_event``.
* **Strings**: ``event_id`` (``max_event_id_chars``), ids of items, responses and calls (``max_id_chars``),
  instructions (``max_instructions_chars``): ``string_above_max_length``, OpenAI's code for it.
* **Counts and sizes**: tools per session or response (``max_tools``; ``array_above_max_length``) and
  the size of each tool's JSON (``max_tool_chars``; ``string_above_max_length``).

Each breach is a :class:`ProtocolError` naming the limit and the ``param``; the caller answers it with an
``error`` event (sessions) or a 400 (key endpoints), and nothing else happens.
"""

from __future__ import annotations

import json
from typing import Any

from voxpipe.server.config import ServerLimits
from voxpipe.server.connection.errors import ProtocolError

__all__ = ["check_event", "load_event"]

_ID_FIELDS = ("item_id", "previous_item_id", "response_id", "call_id")
_ITEM_ID_FIELDS = ("id", "call_id", "previous_item_id")
_CONFIG_FIELDS = ("session", "response")


def load_event(text: str | bytes, limits: ServerLimits) -> dict[str, Any]:
    """Decode one JSON object and check its structure and strings (see the module docstring).

    Raises:
        ProtocolError: ``invalid_json`` (not JSON), ``invalid_event`` (not an object), or a breached limit.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep(limits) from None
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("Invalid event: failed to parse JSON value.", code="invalid_json") from None
    if not isinstance(value, dict):
        raise ProtocolError(
            f"A realtime event must be a JSON object, got a JSON {type(value).__name__}.",
            code="invalid_event",
        )
    check_event(value, limits)
    return value


def check_event(event: dict[str, Any], limits: ServerLimits) -> None:
    """Check a decoded client event (or a ``session.update``-shaped key request) against ``limits``.

    Raises:
        ProtocolError: the first limit breached, with the offending ``param``.
    """
    _check_structure(event, limits)
    _check_string(event, "event_id", limits.max_event_id_chars, "")
    for name in _ID_FIELDS:
        _check_string(event, name, limits.max_id_chars, "")
    item = event.get("item")
    if isinstance(item, dict):
        for name in _ITEM_ID_FIELDS:
            _check_string(item, name, limits.max_id_chars, "item.")
    for name in _CONFIG_FIELDS:
        config = event.get(name)
        if isinstance(config, dict):
            _check_config(config, limits, f"{name}.")


def _check_config(config: dict[str, Any], limits: ServerLimits, prefix: str) -> None:
    _check_string(config, "instructions", limits.max_instructions_chars, prefix)
    tools = config.get("tools")
    if isinstance(tools, list):
        if len(tools) > limits.max_tools:
            raise ProtocolError(
                f"Invalid '{prefix}tools': array too long. Expected an array with maximum length "
                f"{limits.max_tools}, but got an array with length {len(tools)} instead.",
                code="array_above_max_length",
                param=f"{prefix}tools",
            )
        for index, tool in enumerate(tools):
            size = len(json.dumps(tool))
            if size > limits.max_tool_chars:
                raise ProtocolError(
                    f"Invalid '{prefix}tools[{index}]': the tool's JSON is {size} characters; this server "
                    f"accepts at most {limits.max_tool_chars}.",
                    code="string_above_max_length",
                    param=f"{prefix}tools[{index}]",
                )
    items = config.get("input")
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict):
                for name in _ITEM_ID_FIELDS:
                    _check_string(item, name, limits.max_id_chars, f"{prefix}input[{index}].")


def _check_string(container: dict[str, Any], name: str, limit: int, prefix: str) -> None:
    value = container.get(name)
    if isinstance(value, str) and len(value) > limit:
        raise ProtocolError(
            f"Invalid '{prefix}{name}': string too long. Expected a string with maximum length {limit}, "
            f"but got a string with length {len(value)} instead.",
            code="string_above_max_length",
            param=f"{prefix}{name}",
        )


def _check_structure(root: Any, limits: ServerLimits) -> None:
    """Depth and value count, with a stack instead of recursion; stops at the first breach."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    values = 0
    while stack:
        value, depth = stack.pop()
        values += 1
        if values > limits.max_json_values:
            raise ProtocolError(
                f"The event holds more than {limits.max_json_values} JSON values; this server accepts at "
                "most that many.",
                code="invalid_event",
            )
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth >= limits.max_json_depth and children:
            raise _too_deep(limits)
        stack.extend((child, depth + 1) for child in children)


def _too_deep(limits: ServerLimits) -> ProtocolError:
    return ProtocolError(
        f"The event is nested deeper than {limits.max_json_depth} levels; this server accepts at most that.",
        code="invalid_event",
    )

"""Session settings as they go on the wire: tools given as a ``ToolsSchema`` become realtime tool dicts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from voxpipe.adapters import to_openai_realtime_tools
from voxpipe.errors import VoxpipeUsageError
from voxpipe.realtime import FunctionTool, SessionProperties

__all__ = ["merge_nested", "merge_settings", "session_for_wire", "wire_tools"]


def wire_tools(tools: Any) -> list[dict[str, Any]]:
    """Tools in the realtime shape, from a ``ToolsSchema``, function schemas or tools, or dicts."""
    if isinstance(tools, list):
        tools = [t.to_dict() if isinstance(t, FunctionTool) else t for t in tools]
    return to_openai_realtime_tools(tools)


def session_for_wire(properties: SessionProperties) -> SessionProperties:
    """Return ``properties`` ready to send: the same settings, with tools in the realtime shape.

    Only fields that were set stay set, so a partial update stays partial.
    """
    if "tools" not in properties.model_fields_set or properties.tools is None:
        return properties
    fields = properties.model_dump(exclude_unset=True)
    fields["tools"] = wire_tools(properties.tools)
    return SessionProperties(**fields)


def merge_settings(current: SessionProperties, fields: dict[str, Any]) -> SessionProperties:
    """``current`` with ``fields`` changed and every other setting kept.

    A nested setting given in part is merged field by field into the current one of the same kind:
    ``turn_detection={"silence_duration_ms": 500}`` (or ``TurnDetection(silence_duration_ms=500)``)
    changes that one field and keeps the threshold and padding already set. A nested setting of another
    kind (``{"type": "semantic_vad"}`` over server VAD), or a scalar, replaces the current value.

    Raises:
        VoxpipeUsageError: a name is not a session setting.
    """
    known = set(SessionProperties.model_fields)
    unknown = sorted(set(fields) - known)
    if unknown:
        raise VoxpipeUsageError(
            f"not session settings: {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    merged = {name: getattr(current, name) for name in current.model_fields_set}
    for name, value in fields.items():
        merged[name] = merge_nested(merged.get(name), value)
    return SessionProperties(**merged)


def merge_nested(current: Any, update: Any) -> Any:
    """The value of one setting after ``update``: nested models merge field by field (see above)."""
    if not isinstance(current, BaseModel) or not isinstance(update, dict | BaseModel):
        return update
    if isinstance(update, BaseModel):
        if type(update) is not type(current):
            return update
        given = {name: getattr(update, name) for name in update.model_fields_set}
    else:
        given = dict(update)
    kind = getattr(current, "type", None)
    if "type" in given and given["type"] != kind:
        return update
    values = {name: getattr(current, name) for name in current.model_fields_set}
    values.update({name: merge_nested(values.get(name), value) for name, value in given.items()})
    return type(current).model_validate(values)

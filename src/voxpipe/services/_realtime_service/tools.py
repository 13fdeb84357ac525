"""Session settings as they go on the wire: tools given as a ``ToolsSchema`` become realtime tool dicts."""

from __future__ import annotations

from typing import Any

from voxpipe.adapters import to_openai_realtime_tools
from voxpipe.errors import VoxpipeUsageError
from voxpipe.realtime import FunctionTool, SessionProperties

__all__ = ["merge_settings", "session_for_wire", "wire_tools"]


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

    Raises:
        VoxpipeUsageError: a name is not a session setting.
    """
    known = set(SessionProperties.model_fields)
    unknown = sorted(set(fields) - known)
    if unknown:
        raise VoxpipeUsageError(
            f"not session settings: {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    merged = current.model_dump(exclude_unset=True)
    merged.update(fields)
    return SessionProperties(**merged)

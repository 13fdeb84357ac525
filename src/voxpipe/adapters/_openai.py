"""Conversion of tools to OpenAI's two formats: chat completions and the Realtime API.

Both formats carry the same function description; chat nests it under ``"function"``, Realtime flattens it:

- chat:     ``{"type": "function", "function": {"name", "description", "parameters"}}``
- realtime: ``{"type": "function", "name", "description", "parameters"}``

The converters accept what users actually pass around: a :class:`ToolsSchema`, a list of
:class:`FunctionSchema`, or dicts already in either shape (or the bare default shape), so a tool list
written for one API can be reused with the other. Dicts whose ``type`` is not ``"function"`` (built-in
tools such as MCP servers) are passed through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from voxpipe.adapters.schemas.function_schema import FunctionSchema
from voxpipe.adapters.schemas.tools_schema import ToolsSchema
from voxpipe.errors import VoxpipeUsageError

__all__ = [
    "OPENAI_CHAT_TOOLS_KEY",
    "OPENAI_REALTIME_TOOLS_KEY",
    "ToolsInput",
    "to_function_schemas",
    "to_openai_chat_tools",
    "to_openai_realtime_tools",
]

OPENAI_CHAT_TOOLS_KEY = "openai"
"""The ``ToolsSchema.custom_tools`` key of tools passed as they are to chat completions."""

OPENAI_REALTIME_TOOLS_KEY = "openai_realtime"
"""The ``ToolsSchema.custom_tools`` key of tools passed as they are to the Realtime API."""

ToolsInput = ToolsSchema | Iterable[FunctionSchema | Mapping[str, Any]] | None
"""Anything the converters accept."""

_Shape = Literal["chat", "realtime"]


def to_openai_realtime_tools(tools: ToolsInput) -> list[dict[str, Any]]:
    """Tools in the Realtime API's shape (``session.tools``), each a fresh dict.

    Args:
        tools: a ToolsSchema, a list of FunctionSchema, or tool dicts in any OpenAI shape; None for none.

    Raises:
        VoxpipeUsageError: an entry is neither a FunctionSchema nor a tool dict, or a function is invalid.
    """
    return _convert(tools, "realtime", OPENAI_REALTIME_TOOLS_KEY)


def to_openai_chat_tools(tools: ToolsInput) -> list[dict[str, Any]]:
    """Tools in the chat completions shape (``tools=[...]``), each a fresh dict.

    Args:
        tools: a ToolsSchema, a list of FunctionSchema, or tool dicts in any OpenAI shape; None for none.

    Raises:
        VoxpipeUsageError: an entry is neither a FunctionSchema nor a tool dict, or a function is invalid.
    """
    return _convert(tools, "chat", OPENAI_CHAT_TOOLS_KEY)


def to_function_schemas(tools: ToolsInput) -> list[FunctionSchema]:
    """The function tools among ``tools`` as :class:`FunctionSchema` objects (other tools are left out).

    Useful to check or list what a model may call, whatever form the tools were given in.
    """
    if tools is None:
        return []
    if isinstance(tools, ToolsSchema):
        return list(tools.standard_tools)
    schemas: list[FunctionSchema] = []
    for entry in _iter_entries(tools):
        if isinstance(entry, FunctionSchema):
            schemas.append(entry)
        elif _is_function_dict(entry):
            schemas.append(FunctionSchema.from_dict(entry))
    return schemas


def _convert(tools: ToolsInput, shape: _Shape, custom_key: str) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if isinstance(tools, ToolsSchema):
        converted = [_shape_function(tool.to_default_dict(), shape) for tool in tools.standard_tools]
        converted.extend(dict(tool) for tool in tools.custom_tools.get(custom_key, ()))
        return converted
    result: list[dict[str, Any]] = []
    for entry in _iter_entries(tools):
        if isinstance(entry, FunctionSchema):
            result.append(_shape_function(entry.to_default_dict(), shape))
        elif _is_function_dict(entry):
            result.append(_shape_function(_normalise(entry), shape))
        else:
            result.append(dict(entry))
    return result


def _iter_entries(tools: Iterable[Any]) -> Iterable[FunctionSchema | Mapping[str, Any]]:
    if isinstance(tools, str | bytes | Mapping) or not isinstance(tools, Iterable):
        raise VoxpipeUsageError(
            f"tools must be a ToolsSchema or a list of FunctionSchema/tool dicts, got {type(tools).__name__}"
        )
    for entry in tools:
        if not isinstance(entry, FunctionSchema | Mapping):
            raise VoxpipeUsageError(f"a tool must be a FunctionSchema or a dict, got {type(entry).__name__}")
        yield entry


def _is_function_dict(entry: Mapping[str, Any]) -> bool:
    kind = entry.get("type")
    return kind == "function" or (kind is None and ("name" in entry or "function" in entry))


def _normalise(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A function dict in any shape, checked, as the default shape (keeping ``strict`` if present)."""
    function = entry.get("function")
    inner: Mapping[str, Any] = function if isinstance(function, Mapping) else entry
    default = FunctionSchema.from_dict(inner).to_default_dict()
    parameters = inner.get("parameters")
    if isinstance(parameters, Mapping):
        # Keep the schema exactly as written (additionalProperties, $defs, ...), only validated above.
        default["parameters"] = dict(parameters)
        default["parameters"].setdefault("type", "object")
        default["parameters"].setdefault("properties", {})
    if "strict" in inner:
        default["strict"] = inner["strict"]
    return default


def _shape_function(default: dict[str, Any], shape: _Shape) -> dict[str, Any]:
    if shape == "chat":
        return {"type": "function", "function": default}
    default.pop("strict", None)  # the Realtime API has no strict mode
    return {"type": "function", **default}

"""``ToolsSchema``: the set of tools a model may use, standard functions plus provider-specific extras."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from voxpipe.adapters.schemas.function_schema import FunctionSchema
from voxpipe.errors import VoxpipeUsageError

__all__ = ["ToolsSchema"]


class ToolsSchema:
    """The tools a model may use.

    Args:
        standard_tools: functions described once, converted to each provider's format.
        custom_tools: tools only one provider understands, already in its format, by provider key
            (``"openai"`` for chat completions, ``"openai_realtime"`` for the Realtime API). A converter
            appends the list under its own key unchanged and ignores the others.

    Raises:
        VoxpipeUsageError: a standard tool is not a :class:`FunctionSchema`, two share a name, or
            ``custom_tools`` is not a dict of lists of dicts.
    """

    __slots__ = ("_custom_tools", "_standard_tools")

    def __init__(
        self,
        standard_tools: Iterable[FunctionSchema],
        custom_tools: Mapping[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        self._standard_tools = _check_standard(standard_tools)
        self._custom_tools = _check_custom(custom_tools)

    @property
    def standard_tools(self) -> list[FunctionSchema]:
        """The provider-neutral functions."""
        return self._standard_tools

    @standard_tools.setter
    def standard_tools(self, tools: Iterable[FunctionSchema]) -> None:
        self._standard_tools = _check_standard(tools)

    @property
    def custom_tools(self) -> dict[str, list[dict[str, Any]]]:
        """Provider-specific tools, by provider key."""
        return self._custom_tools

    @custom_tools.setter
    def custom_tools(self, tools: Mapping[str, list[dict[str, Any]]] | None) -> None:
        self._custom_tools = _check_custom(tools)

    def names(self) -> list[str]:
        """The names of the standard functions, in order."""
        return [tool.name for tool in self._standard_tools]

    def __len__(self) -> int:
        return len(self._standard_tools)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ToolsSchema):
            return NotImplemented
        return self._standard_tools == other._standard_tools and self._custom_tools == other._custom_tools

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        custom = {key: len(tools) for key, tools in self._custom_tools.items()}
        return f"ToolsSchema(standard_tools={self.names()!r}, custom_tools={custom!r})"


def _check_standard(tools: Iterable[FunctionSchema]) -> list[FunctionSchema]:
    if isinstance(tools, str | bytes | Mapping) or not isinstance(tools, Iterable):
        raise VoxpipeUsageError(
            f"standard_tools must be a list of FunctionSchema, got {type(tools).__name__}"
        )
    checked = list(tools)
    seen: set[str] = set()
    for tool in checked:
        if not isinstance(tool, FunctionSchema):
            raise VoxpipeUsageError(
                f"standard_tools must hold FunctionSchema objects, got {type(tool).__name__}; "
                "wrap provider dicts with FunctionSchema.from_dict(...)"
            )
        if tool.name in seen:
            raise VoxpipeUsageError(f"two standard tools are named {tool.name!r}; names must be unique")
        seen.add(tool.name)
    return checked


def _check_custom(tools: Mapping[str, list[dict[str, Any]]] | None) -> dict[str, list[dict[str, Any]]]:
    if tools is None:
        return {}
    if not isinstance(tools, Mapping):
        raise VoxpipeUsageError(
            f"custom_tools must be a dict of provider -> tool list, got {type(tools).__name__}"
        )
    checked: dict[str, list[dict[str, Any]]] = {}
    for key, value in tools.items():
        provider = getattr(key, "value", key)  # accept enum keys (pipecat's AdapterType)
        if not isinstance(provider, str) or not isinstance(value, list):
            raise VoxpipeUsageError(f"custom_tools[{key!r}] must be a list of tool dicts")
        if not all(isinstance(tool, dict) for tool in value):
            raise VoxpipeUsageError(f"custom_tools[{key!r}] must hold only dicts")
        checked[provider] = list(value)
    return checked

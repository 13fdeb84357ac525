"""``FunctionSchema``: one function the model may call, described once for every provider.

The provider formats (OpenAI chat, OpenAI Realtime, ...) differ only in where they put the same three
things: a name, a description and a JSON schema of the arguments. A ``FunctionSchema`` holds those three
things and checks them when it is built, so a bad name fails in the user's code with a clear message, not
later as a server error in the middle of a conversation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from voxpipe.errors import VoxpipeUsageError

__all__ = ["FUNCTION_NAME_PATTERN", "FunctionSchema", "validate_function_name"]

FUNCTION_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""OpenAI's rule for function names: 1 to 64 letters, digits, underscores or dashes."""


def validate_function_name(name: object) -> str:
    """Check a function name against :data:`FUNCTION_NAME_PATTERN` and return it.

    Raises:
        VoxpipeUsageError: the name is not a string or does not match the pattern; the message says why.
    """
    if not isinstance(name, str):
        raise VoxpipeUsageError(f"function name must be a string, got {type(name).__name__}")
    if FUNCTION_NAME_PATTERN.fullmatch(name) is None:
        if not name:
            why = "it is empty"
        elif len(name) > 64:
            why = f"it is {len(name)} characters long (at most 64)"
        else:
            bad = sorted({ch for ch in name if not (ch.isascii() and (ch.isalnum() or ch in "_-"))})
            why = f"it contains {''.join(bad)!r} (only a-z, A-Z, 0-9, '_' and '-' are allowed)"
        raise VoxpipeUsageError(f"invalid function name {name!r}: {why}")
    return name


class FunctionSchema:
    """A function the model may call, in a provider-neutral form.

    Args:
        name: the function's name, as the model will call it (``^[a-zA-Z0-9_-]{1,64}$``).
        description: what the function does; the model reads it to decide when to call it.
        properties: the JSON schema of each argument, by argument name
            (``{"location": {"type": "string"}}``).
        required: the names of the arguments the model must always give; each must be in ``properties``.

    Raises:
        VoxpipeUsageError: a field has the wrong type, the name is invalid, or a required argument is not
            among the properties.
    """

    __slots__ = ("_description", "_name", "_properties", "_required")

    def __init__(
        self,
        name: str,
        description: str,
        properties: Mapping[str, Any],
        required: Sequence[str] = (),
    ) -> None:
        self._name = validate_function_name(name)
        if not isinstance(description, str):
            raise VoxpipeUsageError(
                f"description of function {name!r} must be a string, got {type(description).__name__}"
            )
        self._description = description
        self._properties = _check_properties(name, properties)
        self._required = _check_required(name, required, self._properties)

    @property
    def name(self) -> str:
        """The function's name."""
        return self._name

    @property
    def description(self) -> str:
        """What the function does, for the model."""
        return self._description

    @property
    def properties(self) -> dict[str, Any]:
        """The JSON schema of each argument, by name."""
        return self._properties

    @property
    def required(self) -> list[str]:
        """The arguments the model must give."""
        return self._required

    def to_default_dict(self) -> dict[str, Any]:
        """The function in OpenAI's function shape, which the provider formats wrap or flatten.

        Returns:
            ``{"name", "description", "parameters": {"type": "object", "properties", "required"}}``;
            a fresh dict each call, safe to modify.
        """
        return {
            "name": self._name,
            "description": self._description,
            "parameters": {
                "type": "object",
                "properties": dict(self._properties),
                "required": list(self._required),
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FunctionSchema:
        """Build a schema from a function dict in the default, OpenAI chat or OpenAI Realtime shape.

        Raises:
            VoxpipeUsageError: the dict is not a function description (says which key is missing).
        """
        function = data.get("function")
        inner = function if isinstance(function, Mapping) else data
        if "name" not in inner:
            raise VoxpipeUsageError(f"a function tool needs a 'name'; got keys {sorted(inner)}")
        parameters = inner.get("parameters") or {}
        if not isinstance(parameters, Mapping):
            raise VoxpipeUsageError(f"'parameters' of function {inner['name']!r} must be a JSON-schema dict")
        return cls(
            name=inner["name"],
            description=inner.get("description", ""),
            properties=parameters.get("properties") or {},
            required=parameters.get("required") or (),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FunctionSchema):
            return NotImplemented
        return self.to_default_dict() == other.to_default_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable contents: not hashable, like a dict

    def __repr__(self) -> str:
        return f"FunctionSchema(name={self._name!r}, properties={list(self._properties)!r})"


def _check_properties(name: str, properties: object) -> dict[str, Any]:
    if not isinstance(properties, Mapping):
        raise VoxpipeUsageError(
            f"properties of function {name!r} must be a dict of argument name -> JSON schema, "
            f"got {type(properties).__name__}"
        )
    checked: dict[str, Any] = {}
    for arg, schema in properties.items():
        if not isinstance(arg, str) or not isinstance(schema, Mapping):
            raise VoxpipeUsageError(
                f"property {arg!r} of function {name!r} must map a string to a JSON-schema dict"
            )
        checked[arg] = dict(schema)
    return checked


def _check_required(name: str, required: object, properties: Mapping[str, Any]) -> list[str]:
    if isinstance(required, str) or not isinstance(required, Sequence):
        raise VoxpipeUsageError(
            f"required of function {name!r} must be a list of argument names, got {required!r}"
        )
    missing = [arg for arg in required if arg not in properties]
    if missing:
        raise VoxpipeUsageError(
            f"function {name!r} requires {missing!r}, which are not among its properties {list(properties)!r}"
        )
    return list(required)

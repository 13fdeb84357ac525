"""Finding tool calls in a small model's text, and checking them against the declared tools.

Qwen2.5's own chat template asks for a call as JSON (``{"name": ..., "arguments": {...}}``), which the model
writes as plain text, sometimes inside ``<tool_call>`` tags or a Markdown code fence. At 0.5B it also
invents tools and calls tools for unrelated questions, so a call is accepted only when its name was
declared and its arguments validate against that tool's JSON schema. What is not accepted:

* text that is not a call at all is the answer, given back as text;
* a call-shaped answer for an unknown tool, with arguments that do not validate, or with a free-text
  argument none of whose words the user said (``location="London"`` when the user asked about Paris) is
  *dropped* (it would make no sense read aloud) and logged. The LLM engine then answers again without
  tools, so the user still gets words (see ``llm``).

The validator covers the schema subset function tools use: ``type`` (object, string, number, integer,
boolean, array, null), ``enum``, ``properties``, ``required``, ``items``, ``additionalProperties: false``,
``minimum``/``maximum`` and ``maxLength``. Other keywords are ignored (accepted), as ``jsonschema`` would
not be worth a dependency for this.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from voxpipe.server.engines.base import FunctionTool

__all__ = ["looks_like_call", "parse_tool_call", "ungrounded", "validate"]

logger = logging.getLogger(__name__)

_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)
_TAGS = re.compile(r"^<tool_call>\s*(.*?)\s*(</tool_call>)?$", re.DOTALL)
_CALL_STARTS = ("{", "```", "<tool_call>", "[")
_WORD = re.compile(r"[^\W_]{3,}")


def looks_like_call(text: str) -> bool | None:
    """Whether generated text is heading for a tool call: True, False, or None (cannot tell yet)."""
    stripped = text.lstrip()
    if not stripped:
        return None
    for start in _CALL_STARTS:
        if stripped.startswith(start):
            return True
        if start.startswith(stripped):
            return None
    return False


def parse_tool_call(
    text: str, tools: Sequence[FunctionTool], user_text: str | None = None
) -> tuple[str, str] | None:
    """Return ``(name, arguments_json)`` for a valid call of a declared tool in ``text``, else None.

    With ``user_text`` (what the user said), free-text arguments must also be grounded in it.
    """
    body = text.strip()
    for pattern in (_TAGS, _FENCE):
        match = pattern.match(body)
        if match:
            body = match.group(1).strip()
    try:
        data = json.loads(body)
    except ValueError:
        logger.info("tool call dropped: not JSON (%d chars)", len(body))
        return None
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        logger.info("tool call dropped: no function name")
        return None
    name = data["name"]
    arguments = data.get("arguments", data.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            logger.info("tool call to %s dropped: arguments are not JSON", name)
            return None
    if not isinstance(arguments, dict):
        logger.info("tool call to %s dropped: arguments are not an object", name)
        return None
    declared = {tool.name: tool for tool in tools}
    if name not in declared:
        logger.info("tool call dropped: %s was not declared", name)
        return None
    problems = validate(arguments, declared[name].parameters)
    if not problems and user_text is not None:
        problems = ungrounded(arguments, declared[name].parameters, user_text)
    if problems:
        logger.info("tool call to %s dropped: %s", name, "; ".join(problems))
        return None
    return name, json.dumps(arguments, ensure_ascii=False)


def ungrounded(arguments: Mapping[str, Any], schema: Mapping[str, Any], user_text: str) -> list[str]:
    """Free-text top-level arguments none of whose words (3+ letters) occur in ``user_text``.

    Enum arguments and short values are not checked: the user need not say ``celsius`` or ``NY``.
    """
    said = {word.lower() for word in _WORD.findall(user_text)}
    properties: Mapping[str, Any] = schema.get("properties", {})
    problems = []
    for key, value in arguments.items():
        if not isinstance(value, str) or "enum" in properties.get(key, {}):
            continue
        words = {word.lower() for word in _WORD.findall(value)}
        if words and not words & said:
            problems.append(f"arguments.{key} ({len(value)} chars) does not come from the user's words")
    return problems


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
}


def _type_ok(value: Any, expected: str) -> bool:
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    kinds = _TYPES.get(expected)
    return True if kinds is None else isinstance(value, kinds)


def validate(value: Any, schema: Mapping[str, Any], path: str = "arguments") -> list[str]:
    """Problems of ``value`` against ``schema`` (the subset described above); empty when valid."""
    problems: list[str] = []
    expected = schema.get("type")
    if expected is not None:
        options = [expected] if isinstance(expected, str) else list(expected)
        if not any(_type_ok(value, t) for t in options):
            return [f"{path} should be {' or '.join(options)}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path} should be one of {schema['enum']}")
    if isinstance(value, str) and "maxLength" in schema and len(value) > schema["maxLength"]:
        problems.append(f"{path} is longer than {schema['maxLength']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{path} is below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{path} is above {schema['maximum']}")
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties", {})
        problems += [f"{path}.{key} is required" for key in schema.get("required", ()) if key not in value]
        for key, item in value.items():
            if key in properties:
                problems += validate(item, properties[key], f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                problems.append(f"{path}.{key} is not allowed")
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            problems += validate(item, schema["items"], f"{path}[{index}]")
    return problems

"""Tool-call parsing and the small JSON-schema validator (no model needed)."""

from __future__ import annotations

import json

import pytest

from voxpipe.server.engines.base import FunctionTool
from voxpipe.server.engines.local.tools import looks_like_call, parse_tool_call, validate

WEATHER = FunctionTool(
    "get_weather",
    "Get the weather.",
    {
        "type": "object",
        "properties": {
            "location": {"type": "string", "maxLength": 40},
            "unit": {"enum": ["c", "f"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
        },
        "required": ["location"],
        "additionalProperties": False,
    },
)


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "get_weather", "arguments": {"location": "Paris"}}',
        '```json\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n```',
        '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n</tool_call>',
        '[{"name": "get_weather", "arguments": "{\\"location\\": \\"Paris\\"}"}]',
    ],
)
def test_call_shapes_are_accepted(text: str) -> None:
    parsed = parse_tool_call(text, [WEATHER])
    assert parsed is not None
    assert parsed[0] == "get_weather"
    assert json.loads(parsed[1]) == {"location": "Paris"}


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "set_timer", "arguments": {"minutes": 5}}',  # not declared
        '{"name": "get_weather", "arguments": {}}',  # required missing
        '{"name": "get_weather", "arguments": {"location": 3}}',  # wrong type
        '{"name": "get_weather", "arguments": {"location": "Paris", "unit": "k"}}',  # not in enum
        '{"name": "get_weather", "arguments": {"location": "Paris", "extra": 1}}',  # not allowed
        '{"name": "get_weather", "arguments": {"location": "Paris", "days": 9}}',  # above maximum
        '{"name": "get_weather", "arguments": {"location": "Paris"',  # broken JSON
        '{"arguments": {"location": "Paris"}}',  # no name
    ],
)
def test_bad_calls_are_dropped(text: str) -> None:
    assert parse_tool_call(text, [WEATHER]) is None


def test_validator_types() -> None:
    assert validate(True, {"type": "boolean"}) == []
    assert validate(1, {"type": "boolean"}) != []
    assert validate(True, {"type": "integer"}) != []  # a bool is not a number in JSON
    assert validate(2.5, {"type": "number"}) == []
    assert validate(2.5, {"type": "integer"}) != []
    assert validate(None, {"type": ["string", "null"]}) == []
    assert validate(["a", 1], {"type": "array", "items": {"type": "string"}}) == [
        "arguments[1] should be string, got int"
    ]
    assert validate({"x": "y"}, {"type": "object", "properties": {}}) == []  # extra keys allowed by default


@pytest.mark.parametrize(
    ("text", "verdict"),
    [("", None), ("  ", None), ("`", None), ("``", None), ("<tool", None), ("{", True), ("```json", True),
     ("<tool_call>", True), ("The", False), ("Sure!", False)],
)  # fmt: skip
def test_looks_like_call(text: str, verdict: bool | None) -> None:
    assert looks_like_call(text) is verdict


def test_free_text_arguments_must_come_from_the_user() -> None:
    call = '{"name": "get_weather", "arguments": {"location": "London", "unit": "c"}}'
    assert parse_tool_call(call, [WEATHER], user_text="What's the weather in Paris?") is None
    assert parse_tool_call(call, [WEATHER], user_text="Is it raining in london?") is not None
    assert parse_tool_call(call, [WEATHER]) is not None  # no user text: no grounding check


def test_arguments_must_be_an_object() -> None:
    assert parse_tool_call('{"name": "get_weather", "arguments": [1]}', [WEATHER]) is None

"""Test data shared by several test areas (the services, the fault proxy and the server tests)."""

from __future__ import annotations

from typing import Any

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
"""One function tool, in the Realtime session's flat tool shape: the model calls it for the weather."""

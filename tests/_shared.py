"""Test data and small helpers shared by several test areas (services, fault proxy, server)."""

from __future__ import annotations

from typing import Any

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
"""One function tool, in the Realtime session's flat tool shape: the model calls it for the weather."""


class ManualClock:
    """A ``time.monotonic`` stand-in that only moves when the test moves it (``clock.now += seconds``)."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

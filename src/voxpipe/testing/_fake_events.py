"""Server events the fake realtime server makes on its own: the greeting and ``session.updated``.

The session objects copy the defaults a real server announced (beta 2025-06, GA 2025-12), shortened.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["merge_session", "new_server_event_id", "session_created", "session_updated"]

_counter = itertools.count(1)

_TURN_DETECTION = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "create_response": True,
    "interrupt_response": True,
}

_BETA_SESSION: dict[str, Any] = {
    "id": "sess_fakeRealtimeServer001",
    "object": "realtime.session",
    "model": "gpt-4o-realtime-preview-2025-06-03",
    "modalities": ["audio", "text"],
    "instructions": "You are a helpful assistant.",
    "voice": "alloy",
    "input_audio_format": "pcm16",
    "output_audio_format": "pcm16",
    "input_audio_transcription": None,
    "input_audio_noise_reduction": None,
    "turn_detection": _TURN_DETECTION,
    "tools": [],
    "tool_choice": "auto",
    "temperature": 0.8,
    "max_response_output_tokens": "inf",
    "speed": 1.0,
    "tracing": None,
    "client_secret": None,
    "include": None,
}

_GA_SESSION: dict[str, Any] = {
    "type": "realtime",
    "object": "realtime.session",
    "id": "sess_fakeRealtimeServer001",
    "model": "gpt-realtime",
    "output_modalities": ["audio"],
    "instructions": "You are a helpful assistant.",
    "tools": [],
    "tool_choice": "auto",
    "max_output_tokens": "inf",
    "tracing": None,
    "truncation": "auto",
    "prompt": None,
    "include": None,
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": None,
            "noise_reduction": None,
            "turn_detection": {**_TURN_DETECTION, "idle_timeout_ms": None},
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0},
    },
}


def new_server_event_id() -> str:
    """Return a fresh server event id (``event_`` + 21 characters, like OpenAI's)."""
    return f"event_fake{next(_counter):017d}"


def session_created(shape: str = "beta", model: str | None = None) -> dict[str, Any]:
    """Return a ``session.created`` event with the defaults of the given shape.

    Args:
        shape: ``"beta"`` or ``"ga"``.
        model: the model to announce (the one in the connection URL, typically).
    """
    session = copy.deepcopy(_GA_SESSION if shape == "ga" else _BETA_SESSION)
    if model:
        session["model"] = model
    session["expires_at"] = int(time.time()) + 1800
    return {"type": "session.created", "event_id": new_server_event_id(), "session": session}


def merge_session(current: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``current`` with ``update`` merged in (objects merged key by key, anything else replaced)."""
    merged = copy.deepcopy(current)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = merge_session(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def session_updated(session: Mapping[str, Any]) -> dict[str, Any]:
    """Return a ``session.updated`` event carrying the full effective ``session``."""
    return {"type": "session.updated", "event_id": new_server_event_id(), "session": dict(session)}

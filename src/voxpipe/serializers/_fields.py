"""Reading fields of a JSON message from a peer, each failure a :class:`MalformedMessageError`.

Peers send what they like; these helpers turn every way a field can be wrong into one typed error that
names the field and what was expected, never the value (it may be audio or a phone number).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from voxpipe.serializers.base import MalformedMessageError

__all__ = ["b64decode_field", "get_object", "get_str", "parse_json_object"]


def parse_json_object(data: str | bytes) -> dict[str, Any]:
    """Parse a text message that must hold a JSON object."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise MalformedMessageError(
            f"message of {len(data)} bytes is not valid JSON ({type(exc).__name__} at {_where(exc)})",
            code="bad_json",
        ) from exc
    if not isinstance(value, dict):
        raise MalformedMessageError(
            f"message is JSON {type(value).__name__}, expected an object", code="unexpected_type"
        )
    return value


def _where(exc: Exception) -> str:
    position = getattr(exc, "pos", None)
    return f"position {position}" if position is not None else "decoding"


def get_object(message: dict[str, Any], key: str, *, context: str) -> dict[str, Any]:
    """``message[key]``, which must be a JSON object."""
    value = message.get(key)
    if value is None:
        raise MalformedMessageError(f"{context}: missing field {key!r}", code="missing_field")
    if not isinstance(value, dict):
        raise MalformedMessageError(
            f"{context}: field {key!r} is {type(value).__name__}, expected an object", code="bad_field"
        )
    return value


def get_str(message: dict[str, Any], key: str, *, context: str, required: bool = True) -> str | None:
    """``message[key]``, which must be a string (or absent, when not ``required``)."""
    value = message.get(key)
    if value is None:
        if required:
            raise MalformedMessageError(f"{context}: missing field {key!r}", code="missing_field")
        return None
    if not isinstance(value, str):
        raise MalformedMessageError(
            f"{context}: field {key!r} is {type(value).__name__}, expected a string", code="bad_field"
        )
    return value


def b64decode_field(value: str, *, context: str) -> bytes:
    """Strict base64 decoding: stray characters or bad padding are an error, not silently skipped."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedMessageError(
            f"{context}: payload of {len(value)} characters is not valid base64", code="bad_base64"
        ) from exc

"""Exceptions raised by the realtime protocol parser.

Both are misuse-or-bad-input errors, hence under ``VoxpipeUsageError`` (a ``ValueError``)::

    VoxpipeUsageError
    └── EventParseError            -- not JSON, not an object, or no string ``type``
        └── EventValidationError   -- a known event whose fields are wrong (strict parsing only)

Each carries a ``code`` taken from the OpenAI Realtime error vocabulary (``invalid_json``,
``invalid_event``, ``invalid_value``, ``invalid_type``, ``missing_required_parameter``,
``unknown_parameter``), so the local server can answer with a protocol ``error`` event directly.
"""

from __future__ import annotations

from voxpipe.errors import VoxpipeUsageError

__all__ = ["EventParseError", "EventValidationError"]


class EventParseError(VoxpipeUsageError):
    """A message could not be read as a realtime event at all.

    Args:
        message: what was wrong, without the payload (it may hold audio or secrets).
        code: protocol error code: ``invalid_json`` (not JSON or not an object) or ``invalid_event``
            (no string ``type``).
        event_type: the event ``type`` when one could be read.
    """

    def __init__(self, message: str, *, code: str = "invalid_json", event_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.event_type = event_type


class EventValidationError(EventParseError):
    """A client event of a known type failed strict validation (``parse_client_event(strict=True)``).

    Args:
        message: a readable sentence naming the parameter, e.g.
            ``"Missing required parameter: 'item_id'."``.
        param: dotted path of the offending field on the wire, e.g. ``"session.turn_detection.type"``;
            ``"type"`` for an unknown event type.
        code: protocol error code (``invalid_value``, ``invalid_type``, ``missing_required_parameter``,
            ``unknown_parameter``).
        event_type: the event ``type``.
        event_id: the client's ``event_id`` when it could be read, to echo in ``error.event_id``.
    """

    def __init__(
        self,
        message: str,
        *,
        param: str | None,
        code: str = "invalid_value",
        event_type: str | None = None,
        event_id: str | None = None,
    ) -> None:
        super().__init__(message, code=code, event_type=event_type)
        self.param = param
        self.event_id = event_id

"""The beta ``error`` server event."""

from typing import Literal

from voxpipe.realtime._base import ProtocolModel, ServerEventBase

__all__ = ["ErrorDetail", "ErrorEvent"]


class ErrorDetail(ProtocolModel):
    """What went wrong. Most errors are recoverable: the session stays open."""

    type: str
    """Error class, e.g. ``invalid_request_error`` or ``server_error``."""
    message: str
    """Readable description."""
    code: str | None = None
    """Machine-readable code, e.g. ``response_cancel_not_active``; may be ``None``."""
    param: str | None = None
    """The offending parameter, e.g. ``session.turn_detection.type``."""
    event_id: str | None = None
    """``event_id`` of the client event that caused the error, when the server echoes it."""


class ErrorEvent(ServerEventBase):
    """``error``: a client event failed or the server hit a problem."""

    type: Literal["error"] = "error"
    error: ErrorDetail
    """The error details."""

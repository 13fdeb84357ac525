"""Sort realtime ``error`` events and close codes into recoverable, fatal and rotate.

The server says "most errors are recoverable and the session will stay open"; a fatal condition comes with
a close frame. So an unknown code is *recoverable* by default and only the codes below end a session.
Lookup order: ``error.code`` table, then message patterns (for the errors that come with ``code: null``),
then ``error.type`` table, then the default.

==========================================  ===========  ================================================
code (or type / message)                    verdict      why
==========================================  ===========  ================================================
``invalid_api_key``, ``missing_api_key``,   fatal        the key is wrong; retrying cannot help
type ``authentication_error`` /
``permission_error``, message
"Missing bearer or basic authentication"
``insufficient_quota``,                     fatal        the account cannot pay; retrying cannot help
``account_deactivated``,
``billing_hard_limit_reached``
``beta_api_shape_disabled``                 fatal        beta header sent to a GA-only server
``invalid_model``, ``missing_model``,       fatal        the model in the URL does not exist
``model_not_found``
``unsupported_protocol``,                   fatal        the server does not speak this protocol version
``invalid_api_version``
``session_expired`` (message "maximum       fatal+rotate the session hit its time limit: a fresh session
duration")                                               may start and replay the state
``response_cancel_not_active``,             recoverable  a race with the server, the session is fine
``conversation_already_has_active_response``
``invalid_value``, ``invalid_request``,     recoverable  one event was rejected, the session goes on
``unknown_parameter``, ``invalid_event``,
``invalid_json``, ``invalid_type``,
``missing_required_parameter``,
``*_below_min_value``/``*_above_max_value``
truncate errors (code null, "already        recoverable  the server truncates to the real end anyway
shorter than", "Only model output audio
messages can be truncated")
``input_audio_buffer_commit_empty``,        recoverable  one event was rejected, the session goes on
``item_*_invalid_item_id``
``rate_limit_exceeded``, type               recoverable, a later attempt may work
``server_error``                            retryable
anything else                               recoverable  the server's own rule for error events
==========================================  ===========  ================================================

Close codes: 3000-4999 are fatal (3000 auth, 4000 request shape), as are 1002, 1003, 1007, 1008 and 1009
(a protocol or size problem that a new connection would repeat); a close reason of the form
``"<type>.<code>"`` is looked up in the table above; "maximum duration" rotates; any other close is a drop
to reconnect from.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voxpipe.errors import ConnectionFailedError, OperationTimeoutError, ServerError

__all__ = [
    "CloseAction",
    "CloseClassification",
    "ConnectTimeoutError",
    "ErrorClassification",
    "MalformedFrameError",
    "RealtimeServerError",
    "ReconnectExhaustedError",
    "SessionExpiredError",
    "classify_close",
    "classify_error",
]


class ConnectTimeoutError(ConnectionFailedError, OperationTimeoutError):
    """The WebSocket handshake or the first ``session.created`` did not come in time."""


class ReconnectExhaustedError(ConnectionFailedError):
    """The connection dropped and every reconnect attempt allowed by the policy failed."""


class RealtimeServerError(ServerError):
    """The server ended the session with a fatal error event or close code.

    Args:
        message: what happened and what to do.
        classification: the verdict on the error, with the server's code, type and message.
    """

    def __init__(self, message: str, classification: ErrorClassification) -> None:
        super().__init__(
            message,
            code=classification.code,
            recoverable=classification.recoverable,
            retryable=classification.retryable,
        )
        self.classification = classification


class SessionExpiredError(RealtimeServerError):
    """The session hit its maximum duration and rotation to a fresh session is switched off."""


class MalformedFrameError(ServerError):
    """The server sent a frame that is not a readable event (binary, not JSON, no ``type``, bad fields).

    Always recoverable: the frame is skipped and the session goes on.
    """


@dataclass(frozen=True, slots=True)
class ErrorClassification:
    """The verdict on one server error.

    Attributes:
        code: ``error.code`` (``None`` when the server gave none).
        type: ``error.type``, e.g. ``invalid_request_error``.
        message: ``error.message``, as the server wrote it.
        recoverable: the session goes on; log it and continue.
        fatal: the session is over (the exact negation of ``recoverable``).
        retryable: doing the same thing again later may succeed.
        rotate: the session ended by time limit; a fresh session can take over.
        event_id: the client event that caused it, when the server echoed it.
    """

    code: str | None
    type: str | None
    message: str
    recoverable: bool
    fatal: bool
    retryable: bool = False
    rotate: bool = False
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class _Verdict:
    recoverable: bool
    retryable: bool = False
    rotate: bool = False


_FATAL = _Verdict(recoverable=False)
_ROTATE = _Verdict(recoverable=False, rotate=True)
_RECOVERABLE = _Verdict(recoverable=True)
_RETRYABLE = _Verdict(recoverable=True, retryable=True)

_BY_CODE: Mapping[str, _Verdict] = {
    "invalid_api_key": _FATAL,
    "missing_api_key": _FATAL,
    "insufficient_quota": _FATAL,
    "account_deactivated": _FATAL,
    "billing_hard_limit_reached": _FATAL,
    "beta_api_shape_disabled": _FATAL,
    "invalid_model": _FATAL,
    "missing_model": _FATAL,
    "model_not_found": _FATAL,
    "unsupported_protocol": _FATAL,
    "invalid_api_version": _FATAL,
    "session_expired": _ROTATE,
    "response_cancel_not_active": _RECOVERABLE,
    "conversation_already_has_active_response": _RECOVERABLE,
    "invalid_value": _RECOVERABLE,
    "invalid_request": _RECOVERABLE,
    "unknown_parameter": _RECOVERABLE,
    "invalid_event": _RECOVERABLE,
    "invalid_json": _RECOVERABLE,
    "invalid_type": _RECOVERABLE,
    "missing_required_parameter": _RECOVERABLE,
    "input_audio_buffer_commit_empty": _RECOVERABLE,
    "rate_limit_exceeded": _RETRYABLE,
    "server_error": _RETRYABLE,
}
_CODE_PATTERNS: tuple[tuple[re.Pattern[str], _Verdict], ...] = (
    (re.compile(r"_(below_min|above_max)_(value|length)$"), _RECOVERABLE),
    (re.compile(r"^item_\w+_invalid_item_id$"), _RECOVERABLE),
)
_MESSAGE_PATTERNS: tuple[tuple[re.Pattern[str], _Verdict], ...] = (
    (re.compile(r"(?i)missing bearer|incorrect api key|invalid api key"), _FATAL),
    (re.compile(r"(?i)maximum duration"), _ROTATE),
    (re.compile(r"(?i)already shorter than|can be truncated"), _RECOVERABLE),
)
_BY_TYPE: Mapping[str, _Verdict] = {
    "authentication_error": _FATAL,
    "permission_error": _FATAL,
    "insufficient_quota": _FATAL,
    "invalid_request_error": _RECOVERABLE,
    "server_error": _RETRYABLE,
    "rate_limit_error": _RETRYABLE,
}


def _field(obj: Any, name: str) -> Any:
    """Read ``name`` from a dict or an object (typed events and plain dicts are both accepted)."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _verdict(code: str | None, type_: str | None, message: str) -> _Verdict:
    if code is not None:
        if code in _BY_CODE:
            return _BY_CODE[code]
        for pattern, verdict in _CODE_PATTERNS:
            if pattern.search(code):
                return verdict
    for pattern, verdict in _MESSAGE_PATTERNS:
        if pattern.search(message):
            return verdict
    if type_ is not None and type_ in _BY_TYPE:
        return _BY_TYPE[type_]
    return _RECOVERABLE


def classify_error(event: Any) -> ErrorClassification:
    """Classify a server ``error`` event (typed or dict) or its inner ``error`` object.

    Args:
        event: an ``ErrorEvent``, a dict ``{"type": "error", "error": {...}}``, or the inner error object.

    Returns:
        The verdict; see the module docstring for the table.
    """
    inner = _field(event, "error")
    if inner is None or isinstance(inner, str):
        inner = event
    code = _field(inner, "code")
    type_ = _field(inner, "type")
    message = _field(inner, "message") or ""
    event_id = _field(inner, "event_id")
    verdict = _verdict(str(code) if code is not None else None, type_, str(message))
    return ErrorClassification(
        code=str(code) if code is not None else None,
        type=str(type_) if type_ is not None else None,
        message=str(message),
        recoverable=verdict.recoverable,
        fatal=not verdict.recoverable,
        retryable=verdict.retryable,
        rotate=verdict.rotate,
        event_id=str(event_id) if event_id is not None else None,
    )


class CloseAction(enum.Enum):
    """What the client does after the server closed the socket."""

    RECONNECT = "reconnect"
    ROTATE = "rotate"
    FATAL = "fatal"


@dataclass(frozen=True, slots=True)
class CloseClassification:
    """The verdict on a close frame (or its absence).

    Attributes:
        action: reconnect, rotate to a fresh session, or give up.
        code: the close code; ``None`` or 1006 when the socket died without one.
        reason: the close reason as sent.
        error_code: the protocol error code read from a ``"<type>.<code>"`` reason, if any.
    """

    action: CloseAction
    code: int | None
    reason: str
    error_code: str | None = None


_FATAL_CLOSE_CODES = frozenset({1002, 1003, 1007, 1008, 1009, 1010})
_APPLICATION_CLOSE_CODES = range(3000, 5000)


def classify_close(code: int | None, reason: str | None) -> CloseClassification:
    """Decide what to do after the server closed the connection.

    Args:
        code: the close code received (``None`` when no close frame came).
        reason: the close reason received.

    Returns:
        The verdict; see the module docstring.
    """
    reason = reason or ""
    error_code = None
    if "." in reason and " " not in reason:
        error_code = reason.split(".", 1)[1] or None
    if error_code is not None:
        verdict = _verdict(error_code, None, reason)
        if verdict.rotate:
            return CloseClassification(CloseAction.ROTATE, code, reason, error_code)
        if not verdict.recoverable:
            return CloseClassification(CloseAction.FATAL, code, reason, error_code)
    if re.search(r"(?i)maximum duration", reason):
        return CloseClassification(CloseAction.ROTATE, code, reason, error_code)
    if code is not None and (code in _FATAL_CLOSE_CODES or code in _APPLICATION_CLOSE_CODES):
        return CloseClassification(CloseAction.FATAL, code, reason, error_code)
    return CloseClassification(CloseAction.RECONNECT, code, reason, error_code)

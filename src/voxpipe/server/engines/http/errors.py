"""The errors of the HTTP backend engines, and the table that turns an HTTP status into one of them.

Every failure of a backend reaches the session as a ``BackendError`` (an ``EngineError``), never as an
``httpx`` exception: the mapping happens at one boundary (``_client``). The message names the backend
role, its URL (without any user:password part), what happened and what to do; it never holds the API key
(a server that echoes the key back has it replaced by ``***``)::

    EngineError (voxpipe.server.engines.base)
    └── BackendError                                    -- an HTTP backend failed; ``status`` when it answered
        ├── BackendStatusError (also ServerError)       -- it answered with an HTTP error status
        ├── BackendTimeoutError (also OperationTimeoutError, TimeoutError)
        ├── BackendConnectionError (also ConnectionFailedError) -- unreachable, or the link dropped
        └── BackendProtocolError                        -- the answer could not be understood

``retryable`` is set for 408, 429, 5xx, timeouts and lost connections; ``recoverable`` is False where the
engine cannot work until its configuration changes (401, 403, 404).
"""

from __future__ import annotations

from dataclasses import dataclass

from voxpipe.errors import ConnectionFailedError, OperationTimeoutError, ServerError
from voxpipe.server.engines.base import EngineError

__all__ = [
    "BackendConnectionError",
    "BackendError",
    "BackendProtocolError",
    "BackendStatusError",
    "BackendTimeoutError",
    "StatusRule",
    "status_rule",
]


class BackendError(EngineError):
    """An HTTP backend (LLM, STT or TTS) failed; ``status`` is its HTTP status when it answered."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        recoverable: bool = True,
        retryable: bool = False,
        status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, recoverable=recoverable, retryable=retryable)
        self.status = status


class BackendStatusError(BackendError, ServerError):
    """The backend answered with an HTTP error status (``status``)."""


class BackendTimeoutError(BackendError, OperationTimeoutError):
    """The backend did not connect, answer or send the next bytes within the configured timeout."""


class BackendConnectionError(BackendError, ConnectionFailedError):
    """The backend could not be reached, or it closed the connection in the middle of an answer."""


class BackendProtocolError(BackendError):
    """The backend answered 200 but with something that is not what the OpenAI API sends."""


@dataclass(frozen=True, slots=True)
class StatusRule:
    """How one HTTP status becomes a ``BackendStatusError``; ``hint`` may use ``{env}`` and ``{model}``."""

    code: str
    recoverable: bool
    retryable: bool
    hint: str


_RULES: dict[int, StatusRule] = {
    400: StatusRule(
        "backend_invalid_request",
        True,
        False,
        "the backend refused the request as invalid: check that {model!r} is a model it serves and that it "
        "supports the options sent (tools, stream_options)",
    ),
    401: StatusRule(
        "backend_unauthorized",
        False,
        False,
        "set {env}API_KEY (or the matching *_api_key option) to a key this backend accepts",
    ),
    403: StatusRule(
        "backend_forbidden",
        False,
        False,
        "the API key is not allowed to use {model!r} or this endpoint: use another key or model",
    ),
    404: StatusRule(
        "backend_not_found",
        False,
        False,
        "check that {env}BASE_URL is the API root (it usually ends in /v1) and that the model {model!r} "
        "exists there",
    ),
    408: StatusRule("backend_timeout", True, True, "the backend timed out: retry"),
    413: StatusRule(
        "backend_payload_too_large", True, False, "the request is too large for this backend: send less"
    ),
    422: StatusRule(
        "backend_invalid_request",
        True,
        False,
        "the backend refused the request as invalid: check the model name and options",
    ),
    429: StatusRule(
        "backend_rate_limited",
        True,
        True,
        "the backend is rate limiting or out of quota: retry after a pause, or lower the load",
    ),
}
_SERVER_ERROR = StatusRule(
    "backend_server_error",
    True,
    True,
    "the backend failed on its side: retry, and read its logs if it keeps failing",
)
_OTHER = StatusRule("backend_http_error", True, False, "see the backend's documentation for this status")


def status_rule(status: int) -> StatusRule:
    """The rule for an HTTP error status: a listed one, any 5xx, or a generic rule."""
    if status in _RULES:
        return _RULES[status]
    return _SERVER_ERROR if status >= 500 else _OTHER

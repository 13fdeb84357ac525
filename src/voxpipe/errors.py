"""The one exception root of voxpipe, and the branches every module builds on.

Misuse of the API (a wrong argument, a call in the wrong state) is kept apart from trouble in the world
(a server that answers with an error, a socket that drops). World errors carry a ``code`` and say whether
they are ``recoverable`` (the session goes on) and ``retryable`` (trying the same thing again may work)::

    VoxpipeError
    ├── VoxpipeUsageError (also ValueError)          -- the caller passed something wrong
    │   └── FrameValidationError                     -- a frame's data does not fit its declared format
    ├── VoxpipeStateError (also RuntimeError)        -- a call made in a state that does not allow it
    └── VoxpipeWorldError                            -- something outside the process failed
        ├── ConnectionFailedError                    -- could not connect, or the peer dropped the link
        ├── ServerError                              -- a server sent an ``error`` event or a close code
        └── OperationTimeoutError (also TimeoutError) -- an awaited answer did not come in time

Modules add their own leaves under these branches and list them in their docstrings.
"""

from __future__ import annotations

__all__ = [
    "ConnectionFailedError",
    "FrameValidationError",
    "OperationTimeoutError",
    "ServerError",
    "VoxpipeError",
    "VoxpipeStateError",
    "VoxpipeUsageError",
    "VoxpipeWorldError",
]


class VoxpipeError(Exception):
    """Root of every exception voxpipe raises on purpose."""


class VoxpipeUsageError(VoxpipeError, ValueError):
    """The caller passed an argument that cannot work; the message says which and why."""


class FrameValidationError(VoxpipeUsageError):
    """A frame was built with data that does not match its declared format."""


class VoxpipeStateError(VoxpipeError, RuntimeError):
    """A method was called in a state that does not allow it; the message names the state."""


class VoxpipeWorldError(VoxpipeError):
    """Something outside this process failed.

    Args:
        message: what happened, in what state, and what to do about it.
        code: a machine-readable code (a protocol error code, a close code, ...), when there is one.
        recoverable: the session or pipeline can go on after this error.
        retryable: doing the same thing again may succeed.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        recoverable: bool = False,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.recoverable = recoverable
        self.retryable = retryable


class ConnectionFailedError(VoxpipeWorldError):
    """A connection could not be made, or the peer closed it unexpectedly."""


class ServerError(VoxpipeWorldError):
    """A server answered with an error (an ``error`` event, an HTTP status or a close code)."""


class OperationTimeoutError(VoxpipeWorldError, TimeoutError):
    """An awaited answer did not arrive in time; the message names what was awaited."""

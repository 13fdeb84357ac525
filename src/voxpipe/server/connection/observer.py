"""What a session tells whoever watches it: every event it handled and every event it queued.

The session calls its observer at two places only (after a client event parsed, and when a server event
is queued for the client), so metrics, tracing or a test can watch a session without living inside it.
Observers run on the event loop in the session's own call: they must be cheap and must not raise.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["NO_OBSERVER", "SessionObserver"]


class SessionObserver(Protocol):
    """Watches one session; both calls are synchronous and cheap."""

    def received(self, event: Any) -> None:
        """A client event parsed and about to be handled (its ``type`` is one the session knows)."""

    def queued(self, event: Any) -> None:
        """A server event queued for the client (it leaves in this order)."""


class _NoObserver:
    """The observer of an unwatched session: does nothing."""

    def received(self, event: Any) -> None:
        """Ignore it."""

    def queued(self, event: Any) -> None:
        """Ignore it."""


NO_OBSERVER: SessionObserver = _NoObserver()

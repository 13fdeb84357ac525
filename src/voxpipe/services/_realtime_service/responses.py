"""The response state machine: at most one response at a time, never a ``response.create`` that races.

States (``idle → requested → active → cancelling → idle``):

- ``idle``: no response; a request sends ``response.create`` at once.
- ``requested``: ``response.create`` sent, ``response.created`` not yet seen.
- ``active``: the server is producing a response (ours, or one its turn detection started).
- ``cancelling``: ``response.cancel`` sent; waiting for ``response.done``.

A request made while a response is requested, active or cancelling is remembered and sent when the
current one is done, so the server's ``conversation_already_has_active_response`` never happens (after
tool results, after appended messages, after a manual commit).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voxpipe.errors import VoxpipeStateError

__all__ = ["ResponseState", "ResponseTracker"]

logger = logging.getLogger(__name__)


class ResponseState(enum.Enum):
    """Where the session's current response is."""

    IDLE = "idle"
    REQUESTED = "requested"
    ACTIVE = "active"
    CANCELLING = "cancelling"


_MOVES: dict[ResponseState, frozenset[ResponseState]] = {
    ResponseState.IDLE: frozenset({ResponseState.REQUESTED, ResponseState.ACTIVE}),
    ResponseState.REQUESTED: frozenset({ResponseState.ACTIVE, ResponseState.IDLE, ResponseState.CANCELLING}),
    ResponseState.ACTIVE: frozenset({ResponseState.CANCELLING, ResponseState.IDLE}),
    ResponseState.CANCELLING: frozenset({ResponseState.IDLE}),
}


@dataclass
class ResponseTracker:
    """Tracks the current response and decides when a ``response.create`` may go out.

    Args:
        send_create: sends a ``response.create`` with the given ``response`` overrides (or None).
        name: for logs.
    """

    send_create: Callable[[dict[str, Any] | None], None]
    name: str = "responses"
    state: ResponseState = ResponseState.IDLE
    response_id: str | None = None
    _queued: list[dict[str, Any] | None] = field(default_factory=list)

    def _set_state(self, new: ResponseState) -> None:
        old = self.state
        if new is old:
            return
        if new not in _MOVES[old]:
            raise VoxpipeStateError(f"{self.name}: response cannot go from {old.value} to {new.value}")
        self.state = new
        logger.debug("%s: response %s -> %s", self.name, old.value, new.value)

    @property
    def in_progress(self) -> bool:
        """A response is requested, active or being cancelled."""
        return self.state is not ResponseState.IDLE

    @property
    def queued(self) -> int:
        """Requests waiting for the current response to end."""
        return len(self._queued)

    def request(self, overrides: dict[str, Any] | None = None) -> bool:
        """Ask for a response: sent now when idle, else queued. Returns whether it was sent now."""
        if self.state is ResponseState.IDLE:
            self._set_state(ResponseState.REQUESTED)
            self.send_create(overrides)
            return True
        if not self._queued or overrides is not None:
            self._queued.append(overrides)
        logger.debug("%s: response request queued behind %s", self.name, self.state.value)
        return False

    def created(self, response_id: str | None) -> None:
        """``response.created`` arrived (for our request, or started by the server's turn detection)."""
        self.response_id = response_id
        if self.state in (ResponseState.IDLE, ResponseState.REQUESTED):
            self._set_state(ResponseState.ACTIVE)

    def cancel(self) -> bool:
        """Mark the response as being cancelled; returns whether a ``response.cancel`` should be sent."""
        if self.state in (ResponseState.REQUESTED, ResponseState.ACTIVE):
            self._set_state(ResponseState.CANCELLING)
            self._queued.clear()
            return True
        return False

    def done(self, response_id: str | None = None) -> None:
        """``response.done`` arrived: back to idle, and send a queued request if there is one."""
        if response_id is not None and self.response_id is not None and response_id != self.response_id:
            logger.debug("%s: done for %s while tracking %s", self.name, response_id, self.response_id)
        self.response_id = None
        if self.state is not ResponseState.IDLE:
            self._set_state(ResponseState.IDLE)
        if self._queued:
            self.request(self._queued.pop(0))

    def rejected(self) -> None:
        """The server refused our ``response.create`` (it already had a response): wait for that one."""
        if self.state is ResponseState.REQUESTED:
            self._set_state(ResponseState.ACTIVE)

    def reset(self) -> None:
        """Forget everything (a new connection has no response)."""
        self.state = ResponseState.IDLE
        self.response_id = None
        self._queued.clear()

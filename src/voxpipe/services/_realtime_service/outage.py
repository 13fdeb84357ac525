"""What a realtime service keeps while its link is down, so the call carries on once it is back.

A lost link (a drop, an expiry, a close the client comes back from) ends a *server session*: the next
connection is a new session with an empty conversation. Between the two the service must

* close the answer that was in flight (balanced frames, so the aggregators and the output settle),
* remember what the new session needs: the history (replayed as items), the partial answer the user
  heard (the assistant aggregator may not have committed it yet), and whether an answer is still owed
  (items created while down are already queued in the client, and are not replayed twice),
* hold the microphone audio captured while down, up to a bound, and send it once the session is back.

The client reports a lost link in its event stream (``ConnectionLost``) before it reconnects, and runs the
``on_connected`` hook of the new connection concurrently with the service reading that stream: the hook
waits (:meth:`Outage.wait_handled`) until the service has handled every loss before it, so the replay
sees the history as the loss left it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field

__all__ = ["DEFAULT_HELD_AUDIO_MS", "Outage"]

logger = logging.getLogger(__name__)

DEFAULT_HELD_AUDIO_MS = 5000
"""Microphone audio kept while the link is down (the oldest goes first when there is more)."""


@dataclass
class Outage:
    """The service's memory of lost links.

    Attributes:
        max_held_ms: most audio held while down.
        held_ms: audio held now.
        dropped_ms: audio dropped because the bound was reached (over the service's life).
        resent_ms: audio held and then sent on a new session (over the service's life).
        losses: lost links handled so far.
        cut_answer: the text of an answer cut by the loss (replayed as an assistant message unless
            the context already holds it).
        owed_response: a response was requested and nothing of it was heard: ask again once back.
    """

    max_held_ms: float = DEFAULT_HELD_AUDIO_MS
    held_ms: float = 0.0
    dropped_ms: float = 0.0
    resent_ms: float = 0.0
    losses: int = 0
    cut_answer: str = ""
    owed_response: bool = False
    _held: deque[tuple[str, float]] = field(default_factory=deque)
    _handled: asyncio.Event = field(default_factory=asyncio.Event)

    def hold(self, chunk: str, ms: float) -> None:
        """Keep an encoded audio chunk captured while down, dropping the oldest past the bound."""
        self._held.append((chunk, ms))
        self.held_ms += ms
        while self.held_ms > self.max_held_ms and self._held:
            _, old = self._held.popleft()
            self.held_ms -= old
            self.dropped_ms += old

    def take_held(self) -> list[str]:
        """The held chunks, oldest first; the store is emptied."""
        chunks = [chunk for chunk, _ in self._held]
        self.resent_ms += self.held_ms
        self._held.clear()
        self.held_ms = 0.0
        return chunks

    def handled(self) -> None:
        """The service handled one more lost link."""
        self.losses += 1
        self._handled.set()

    async def wait_handled(self, connection: int) -> None:
        """Wait until every loss before ``connection`` (1-based) was handled by the service."""
        while self.losses < connection - 1:
            self._handled.clear()
            await self._handled.wait()

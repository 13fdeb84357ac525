"""The outgoing side of a session: a bounded queue of serialized events and the one writer that drains it.

Why bounded, and how: a client that stops reading must cost the server a fixed amount of memory, and
must be noticed. Three mechanisms work together (DESIGN.md section 6, back-pressure):

* **Room**: producers that can wait (the reader of client events, a response's LLM and TTS loops) await
  :meth:`Outbox.room` before making more, so generation pauses while ``max_bytes`` are queued: a response
  goes no faster than its client reads.
* **Hard cap**: producers that cannot wait (events made in callbacks) ``put`` anyway; past twice
  ``max_bytes`` ``put`` refuses, and the session closes the connection (1008) instead of growing.
* **Send timeout**: one send that the peer does not take within ``send_timeout_s`` (the transport is
  flow-controlled, so a send blocks while the peer's TCP window is full) closes the connection with
  1008 ``client is not reading``.

A close the session asks for (:meth:`Outbox.close`: expiry, overflow, shutdown) goes out after the
events already queued, but waits at most ``grace_s`` for them: a stuck peer cannot delay it further.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from dataclasses import dataclass
from typing import Protocol

__all__ = ["SLOW_CLIENT_CODE", "CloseRequest", "Outbox", "TextSink"]

logger = logging.getLogger(__name__)

SLOW_CLIENT_CODE = 1008
"""Close code for a client that does not read (policy violation: it broke the flow-control contract)."""


class TextSink(Protocol):
    """What the writer sends to (the session's transport)."""

    async def send_text(self, text: str) -> None:
        """Send one text frame; blocks while the peer does not read."""

    async def close(self, code: int, reason: str) -> None:
        """Close the connection (must not wait for the peer to read)."""


@dataclass(frozen=True, slots=True)
class CloseRequest:
    """Queued after the last event when the server ends the session."""

    code: int
    reason: str


class Outbox:
    """See the module docstring.

    Args:
        max_bytes: queued text above which producers wait (:meth:`room`); ``put`` refuses past twice this.
        send_timeout_s: longest a single send may wait for the peer before the connection is closed.
        owner: names the session in log lines.
    """

    def __init__(self, *, max_bytes: int, send_timeout_s: float, owner: str) -> None:
        self._max_bytes = max_bytes
        self._send_timeout_s = send_timeout_s
        self._owner = owner
        self._items: collections.deque[str] = collections.deque()
        self._bytes = 0
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._close: CloseRequest | None = None
        self._close_at: float | None = None
        self._sending: asyncio.Timeout | None = None
        self._ended = False

    @property
    def queued_bytes(self) -> int:
        """Characters of event text waiting to be sent."""
        return self._bytes

    def put(self, text: str) -> bool:
        """Queue one serialized event; False (nothing queued) when the hard cap is reached.

        Once the writer has ended or a close was asked for, events are dropped silently (True).
        """
        if self._ended or self._close is not None:
            return True
        if self._bytes and self._bytes + len(text) > 2 * self._max_bytes:
            return False
        self._items.append(text)
        self._bytes += len(text)
        if self._bytes >= self._max_bytes:
            self._room.clear()
        self._ready.set()
        return True

    async def room(self) -> None:
        """Wait until fewer than ``max_bytes`` are queued (returns at once after the writer ended)."""
        await self._room.wait()

    def close(self, request: CloseRequest, *, grace_s: float) -> None:
        """Close the connection after the queued events, waiting at most ``grace_s`` for the peer."""
        if self._close is not None or self._ended:
            return
        self._close = request
        deadline = asyncio.get_running_loop().time() + grace_s
        self._close_at = deadline
        if self._sending is not None:
            current = self._sending.when()
            self._sending.reschedule(deadline if current is None else min(current, deadline))
        self._ready.set()

    async def run(self, transport: TextSink) -> None:
        """The writer: send queued events in order until a close, a failed send or cancellation."""
        try:
            await self._drain(transport)
        finally:
            self._ended = True
            self._items.clear()
            self._bytes = 0
            self._room.set()

    async def _drain(self, transport: TextSink) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._items:
                if self._close is not None:
                    await self._send_close(transport, self._close)
                    return
                self._ready.clear()
                await self._ready.wait()
                continue
            text = self._items.popleft()
            self._bytes -= len(text)
            if self._bytes < self._max_bytes:
                self._room.set()
            deadline = loop.time() + self._send_timeout_s
            if self._close_at is not None:
                deadline = min(deadline, self._close_at)
            try:
                async with asyncio.timeout_at(deadline) as self._sending:
                    await transport.send_text(text)
            except TimeoutError:
                request = self._close or CloseRequest(
                    SLOW_CLIENT_CODE, f"client is not reading (nothing taken for {self._send_timeout_s:g} s)"
                )
                if self._close is None:
                    logger.warning(
                        "%s: closing with %d: %s (%d bytes still queued)",
                        self._owner,
                        request.code,
                        request.reason,
                        self._bytes,
                    )
                await self._send_close(transport, request)
                return
            except Exception as exc:  # the peer is gone; the reader sees it and ends the session
                logger.debug("%s: send failed (%s)", self._owner, type(exc).__name__)
                return
            finally:
                self._sending = None

    async def _send_close(self, transport: TextSink, request: CloseRequest) -> None:
        with contextlib.suppress(Exception):  # the peer may be gone already
            await transport.close(request.code, request.reason)

"""The server's WebSocket wire protocol: uvicorn's sans-I/O one, made safe against peers that stop reading.

uvicorn's ``websockets-sansio`` protocol already pauses ``websocket.send`` while the transport's buffer is
above its high-water mark (flow control) and sends keepalive pings (no pong within ``ws_ping_timeout``:
close 1011 ``keepalive ping timeout``). Two gaps remain when the peer never reads, and this subclass
fills them:

* **A close never waits for the peer.** uvicorn's ``send`` waits for the buffer to drain before *any*
  message, the close included, so a session could not close a connection exactly when it must (expiry,
  a client not reading). Here ``websocket.close`` goes out at once.
* **Every close ends in bounded time.** ``transport.close()`` (after our close, uvicorn's shutdown with
  1012, a keepalive timeout, a rejected handshake) waits for the write buffer to drain, i.e. forever
  with a stuck peer: the connection, its buffers and the server's shutdown stay pinned. Here it becomes
  ``transport.abort()`` when the connection is not gone ``close_timeout_s`` later.

Use :func:`protocol_class` to get the class for a given close timeout (uvicorn instantiates it itself).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["BoundedWebSocketProtocol", "protocol_class"]

logger = logging.getLogger(__name__)


class _BoundedCloseTransport:
    """Wraps a transport so that ``close()`` turns into ``abort()`` after a timeout (see the module doc)."""

    def __init__(
        self, transport: asyncio.Transport, timeout_s: float, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._transport = transport
        self._timeout_s = timeout_s
        self._loop = loop
        self.abort_timer: asyncio.TimerHandle | None = None

    def close(self) -> None:
        self._transport.close()
        if self.abort_timer is None:
            self.abort_timer = self._loop.call_later(self._timeout_s, self._abort)

    def _abort(self) -> None:
        if self._transport.get_write_buffer_size() > 0:
            logger.info("aborting a WebSocket whose peer did not take its close in %.1f s", self._timeout_s)
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class BoundedWebSocketProtocol(WebSocketsSansIOProtocol):
    """See the module docstring; everything else is uvicorn's ``websockets-sansio`` protocol."""

    close_timeout_s: ClassVar[float] = 2.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.close_timeout = self.close_timeout_s  # uvicorn's wait for the peer's answer to our close
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = _BoundedCloseTransport(  # type: ignore[assignment]
            self.transport, self.close_timeout_s, self.loop
        )

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        abort_timer = getattr(self.transport, "abort_timer", None)
        if abort_timer is not None:
            abort_timer.cancel()

    def pause_writing(self) -> None:
        self._paused = True
        super().pause_writing()

    def resume_writing(self) -> None:
        self._paused = False
        super().resume_writing()

    async def send(self, message: Any) -> None:
        """uvicorn's ``send``, except that a close does not wait for the peer to read (see above)."""
        if message["type"] != "websocket.close" or not self._paused:
            await super().send(message)
            return
        self.writable.set()  # lets this close through; sends woken by it fail on the closed connection
        try:
            await super().send(message)
        finally:
            if self._paused:
                self.writable.clear()


def protocol_class(close_timeout_s: float) -> type[BoundedWebSocketProtocol]:
    """The protocol class to give uvicorn (``ws=``), with its close timeout set."""
    return type(
        "BoundedWebSocketProtocol",
        (BoundedWebSocketProtocol,),
        {"close_timeout_s": close_timeout_s, "__module__": __name__},
    )

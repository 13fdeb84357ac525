"""``WebsocketServerTransport``: a pipeline behind a WebSocket server (a phone provider dials in to it).

One client at a time: the pipeline is one conversation, and mixing two callers' audio into it would be
wrong. A second client that connects while one is attached is refused with close code 1013 ("try again
later") and never reaches the pipeline. With ``end_on_disconnect=False`` the next client is welcome once
the first one left; otherwise (the default) the run ends when the first client leaves.

The server starts listening when the pipeline starts (the StartFrame) and stops when the run ends,
closing any client with code 1001 ("going away"); ``port=0`` picks a free port, which
:meth:`WebsocketServerTransport.wait_listening` returns.

Events (handlers get the transport first): ``on_client_connected(transport, websocket)``,
``on_client_disconnected(transport, websocket)``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve

from voxpipe.errors import ConnectionFailedError, OperationTimeoutError
from voxpipe.transports.websocket._link import LinkState, WebsocketLink, close_quietly
from voxpipe.transports.websocket._transport import WebsocketTransportBase
from voxpipe.transports.websocket.input import WebsocketInputTransport
from voxpipe.transports.websocket.params import WebsocketParams

__all__ = ["WebsocketServerInputTransport", "WebsocketServerTransport"]

logger = logging.getLogger(__name__)

CLOSE_BUSY = 1013
"""Close code for a client refused because another one is attached ("try again later")."""


class WebsocketServerInputTransport(WebsocketInputTransport):
    """The input side of :class:`WebsocketServerTransport`: owns the listening server.

    Args:
        link: the peer holder shared with the output transport.
        params: the transport's settings.
        host: the address to listen on.
        port: the port to listen on (0: any free port).
    """

    def __init__(
        self, link: WebsocketLink, params: WebsocketParams, host: str, port: int, **kwargs: Any
    ) -> None:
        super().__init__(
            link,
            params,
            connected_event="on_client_connected",
            disconnected_event="on_client_disconnected",
            **kwargs,
        )
        self._host = host
        self._port = port
        self._server: Server | None = None
        self._listening = asyncio.Event()
        self._start_error: BaseException | None = None
        self.clients_refused = 0

    async def wait_listening(self, timeout: float = 10.0) -> int:
        """Wait until the server listens; return its port.

        Raises:
            ConnectionFailedError: the server could not listen (the port is taken, say).
            OperationTimeoutError: it did not start within ``timeout`` seconds (the pipeline never ran?).
        """
        try:
            async with asyncio.timeout(timeout):
                await self._listening.wait()
        except TimeoutError as exc:
            raise OperationTimeoutError(
                f"{self}: not listening after {timeout:.1f} s; is the pipeline task running?"
            ) from exc
        if self._start_error is not None:
            raise ConnectionFailedError(
                f"{self}: could not listen: {self._start_error}"
            ) from self._start_error
        return self._port

    async def _open(self) -> None:
        try:
            self._server = await serve(
                self._handle_client,
                self._host,
                self._port,
                max_size=self._params.max_message_bytes,
                close_timeout=self._params.close_timeout_s,
            )
        except OSError as exc:
            self._start_error = exc
            self._listening.set()
            await self.push_error(
                f"cannot listen on {self._host}:{self._port}: {exc}", exception=exc, fatal=True
            )
            return
        if self._link.state is LinkState.CLOSED:  # the run was cancelled while the server started
            await self._shutdown()
            self._start_error = ConnectionAbortedError("the run was cancelled while the server started")
            self._listening.set()
            return
        sockets = self._server.sockets
        if sockets:
            self._port = sockets[0].getsockname()[1]
        logger.info("%s: listening on %s:%d (one client at a time)", self, self._host, self._port)
        self._listening.set()

    async def _handle_client(self, connection: ServerConnection) -> None:
        """The server's handler for one connection: refuse it, or serve it until it closes."""
        if self._link.state is not LinkState.IDLE:
            self.clients_refused += 1
            logger.warning(
                "%s: refused a client (state %s; one client at a time)", self, self._link.state.value
            )
            await close_quietly(
                connection, CLOSE_BUSY, "busy: one client at a time", self._params.close_timeout_s
            )
            return
        self._link.attach(connection)
        logger.info("%s: client connected", self)
        await self._serve_connection(connection)

    async def _shutdown(self) -> None:
        if self._link.state is not LinkState.CLOSED:
            self._link.close()
        server, self._server = self._server, None
        if server is None:
            return
        server.close(close_connections=True)
        try:
            async with asyncio.timeout(self._params.close_timeout_s + 1.0):
                await server.wait_closed()
        except TimeoutError:
            logger.warning("%s: server connections did not close in time", self)
        logger.info("%s: server closed", self)


class WebsocketServerTransport(WebsocketTransportBase):
    """A WebSocket server carrying one conversation: ``input()`` and ``output()`` go in the pipeline.

    Example::

        transport = WebsocketServerTransport(
            WebsocketParams(serializer=TwilioFrameSerializer()), host="0.0.0.0", port=8765
        )
        pipeline = Pipeline([transport.input(), llm, transport.output()])

    Args:
        params: serializer and playout settings.
        host: the address to listen on (``127.0.0.1`` by default: reachable from this machine only).
        port: the port (0: a free one; see :meth:`wait_listening`).
        name: a readable name for logs.
    """

    def __init__(
        self,
        params: WebsocketParams,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        name: str = "WebsocketServerTransport",
    ) -> None:
        self._host = host
        self._port = port
        super().__init__(params, name=name)

    def _make_input(self) -> WebsocketServerInputTransport:
        return WebsocketServerInputTransport(
            self._link, self._params, self._host, self._port, name=f"{self._name}.input"
        )

    def input(self) -> WebsocketServerInputTransport:
        """The processor that owns the server and turns messages into frames; first in the pipeline."""
        assert isinstance(self._input, WebsocketServerInputTransport)
        return self._input

    async def wait_listening(self, timeout: float = 10.0) -> int:
        """Wait until the server listens (after the pipeline started); return its port.

        Raises:
            ConnectionFailedError: the server could not listen.
            OperationTimeoutError: it did not start within ``timeout`` seconds.
        """
        return await self.input().wait_listening(timeout)

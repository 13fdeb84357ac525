"""``WebsocketClientTransport``: a pipeline that dials out to a WebSocket server (a bot joining a call).

It connects when the pipeline starts (the StartFrame); failing to connect within ``connect_timeout_s`` is
a fatal error of the run (a :class:`ConnectionFailedError` in a fatal ``ErrorFrame``). There is no
reconnection: when the server closes the connection, the disconnect event fires and, with
``end_on_disconnect`` (the default), the run ends.

Events (handlers get the transport first): ``on_connected(transport, websocket)``,
``on_disconnected(transport, websocket)``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidURI

from voxpipe.errors import ConnectionFailedError
from voxpipe.transports.websocket._link import LinkState, WebsocketLink, close_quietly
from voxpipe.transports.websocket._transport import WebsocketTransportBase
from voxpipe.transports.websocket.input import WebsocketInputTransport
from voxpipe.transports.websocket.params import WebsocketParams

__all__ = ["WebsocketClientInputTransport", "WebsocketClientTransport"]

logger = logging.getLogger(__name__)


class WebsocketClientInputTransport(WebsocketInputTransport):
    """The input side of :class:`WebsocketClientTransport`: owns the connection and its reader task.

    Args:
        link: the peer holder shared with the output transport.
        params: the transport's settings.
        uri: the ``ws://`` or ``wss://`` address to connect to.
        headers: extra HTTP headers for the opening handshake (never logged).
    """

    def __init__(
        self,
        link: WebsocketLink,
        params: WebsocketParams,
        uri: str,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            link, params, connected_event="on_connected", disconnected_event="on_disconnected", **kwargs
        )
        self._uri = uri
        self._headers = dict(headers or {})
        self._reader: asyncio.Task[None] | None = None

    async def _open(self) -> None:
        try:
            async with asyncio.timeout(self._params.connect_timeout_s):
                connection = await connect(
                    self._uri,
                    additional_headers=self._headers or None,
                    max_size=self._params.max_message_bytes,
                    close_timeout=self._params.close_timeout_s,
                )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            error = ConnectionFailedError(
                f"{self}: cannot connect to the WebSocket server ({type(exc).__name__}: {exc}); "
                "check the address and that the server runs",
                retryable=True,
            )
            error.__cause__ = exc
            await self.push_error(str(error), exception=error, fatal=True)
            return
        if self._link.state is LinkState.CLOSED:  # the run was cancelled while connecting
            await close_quietly(connection, 1000, "pipeline ended", self._params.close_timeout_s)
            return
        self._link.attach(connection)
        logger.info("%s: connected", self)
        self._reader = self.create_task(self._read(connection), name="reader")

    async def _read(self, connection: ClientConnection) -> None:
        await self._serve_connection(connection)

    async def _shutdown(self) -> None:
        connection = self._link.connection
        if self._link.state is not LinkState.CLOSED:
            self._link.close()
        if connection is not None:
            await close_quietly(connection, 1000, "pipeline ended", self._params.close_timeout_s)
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            await self.cancel_task(reader, timeout=self._params.close_timeout_s)


class WebsocketClientTransport(WebsocketTransportBase):
    """A WebSocket client carrying one conversation: ``input()`` and ``output()`` go in the pipeline.

    Args:
        uri: the server's ``ws://`` or ``wss://`` address.
        params: serializer and playout settings.
        headers: extra HTTP headers for the handshake (an auth token, say); never logged.
        name: a readable name for logs.
    """

    def __init__(
        self,
        uri: str,
        params: WebsocketParams,
        *,
        headers: Mapping[str, str] | None = None,
        name: str = "WebsocketClientTransport",
    ) -> None:
        self._uri = uri
        self._headers = headers
        super().__init__(params, name=name)

    def _make_input(self) -> WebsocketClientInputTransport:
        return WebsocketClientInputTransport(
            self._link, self._params, self._uri, self._headers, name=f"{self._name}.input"
        )

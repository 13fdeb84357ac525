"""``WebRTCTransport``: a browser on the other end of a peer connection, as a pipeline's input and output.

::

    connection = WebRTCConnection()
    answer = await connection.accept(offer["sdp"], offer["type"])   # from the page's POST
    transport = WebRTCTransport(connection, WebRTCParams(vad_analyzer=SileroVADAnalyzer()))
    pipeline = Pipeline([transport.input(), llm, transport.output()])

    @transport.event_handler("on_app_message")
    async def on_message(transport, message): ...

Events (handlers get the transport first): ``on_client_connected``, ``on_client_disconnected`` and
``on_app_message(message)`` (a JSON object the page sent on its data channel).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from voxpipe.errors import VoxpipeUsageError
from voxpipe.transports.webrtc.connection import WebRTCConnection
from voxpipe.transports.webrtc.input import WebRTCInputTransport
from voxpipe.transports.webrtc.output import WebRTCOutputTransport
from voxpipe.transports.webrtc.params import WebRTCParams

__all__ = ["WebRTCTransport"]

_H = TypeVar("_H", bound=Callable[..., Any])

_SOURCES = {
    "on_client_connected": "on_connected",
    "on_client_disconnected": "on_closed",
    "on_app_message": "on_message",
}
"""The transport's events and the connection events they re-expose."""


class WebRTCTransport:
    """The input and output processors over one browser connection.

    Args:
        connection: the answered peer connection.
        params: the transport's settings.
        name: a readable name for logs.
    """

    def __init__(
        self, connection: WebRTCConnection, params: WebRTCParams | None = None, *, name: str = "webrtc"
    ) -> None:
        self._connection = connection
        self._params = params or WebRTCParams()
        self._input = WebRTCInputTransport(connection, self._params, name=f"{name}.input")
        self._output = WebRTCOutputTransport(connection, self._params, name=f"{name}.output")

    @property
    def connection(self) -> WebRTCConnection:
        """The browser's peer connection."""
        return self._connection

    def input(self) -> WebRTCInputTransport:
        """The browser's microphone; put it first in the pipeline."""
        return self._input

    def output(self) -> WebRTCOutputTransport:
        """The browser's speaker; put it last in the pipeline."""
        return self._output

    def send_message(self, message: dict[str, Any]) -> bool:
        """Send a JSON object to the page's data channel; False when it is not open."""
        return self._connection.send_message(message)

    def add_event_handler(self, event_name: str, handler: Callable[..., Any]) -> None:
        """Call ``handler(transport, *args)`` on the named event.

        Raises:
            VoxpipeUsageError: the transport has no such event.
        """
        source = _SOURCES.get(event_name)
        if source is None:
            raise VoxpipeUsageError(
                f"WebRTCTransport has no event {event_name!r}; known events: {', '.join(sorted(_SOURCES))}"
            )

        def call(_connection: WebRTCConnection, *args: Any) -> Any:
            return handler(self, *args)

        self._connection.add_event_handler(source, call)

    def event_handler(self, event_name: str) -> Callable[[_H], _H]:
        """Decorator form of :meth:`add_event_handler`."""

        def decorator(handler: _H) -> _H:
            self.add_event_handler(event_name, handler)
            return handler

        return decorator

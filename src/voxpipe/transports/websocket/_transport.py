"""What the server and client transports share: an input and an output processor over one link.

Events are declared and emitted by the input processor (the side that sees peers come and go); the
transport re-exposes them so that handlers receive the transport itself, as pipecat users expect::

    @transport.event_handler("on_client_connected")
    async def greet(transport, websocket): ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from voxpipe.transports.websocket._link import LinkState, WebsocketLink
from voxpipe.transports.websocket.input import WebsocketInputTransport
from voxpipe.transports.websocket.output import WebsocketOutputTransport
from voxpipe.transports.websocket.params import WebsocketParams

__all__ = ["WebsocketTransportBase"]

_H = TypeVar("_H", bound=Callable[..., Any])


class WebsocketTransportBase:
    """A pair of processors, ``input()`` first in the pipeline and ``output()`` last, and their events.

    Args:
        params: the settings shared by both sides.
        name: a readable name for logs; the processors are named after it.
    """

    def __init__(self, params: WebsocketParams, *, name: str) -> None:
        self._name = name
        self._params = params
        self._link = WebsocketLink(name, params.serializer, close_timeout_s=params.close_timeout_s)
        self._input = self._make_input()
        self._output = WebsocketOutputTransport(self._link, params, name=f"{name}.output")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name} {self._link.state.value}>"

    def _make_input(self) -> WebsocketInputTransport:
        raise NotImplementedError

    @property
    def name(self) -> str:
        """The transport's name."""
        return self._name

    @property
    def params(self) -> WebsocketParams:
        """The transport's settings."""
        return self._params

    @property
    def link_state(self) -> LinkState:
        """Whether a peer is connected."""
        return self._link.state

    def input(self) -> WebsocketInputTransport:
        """The processor that turns the peer's messages into frames; put it first in the pipeline."""
        return self._input

    def output(self) -> WebsocketOutputTransport:
        """The processor that sends frames to the peer, audio paced in real time; put it last."""
        return self._output

    @property
    def event_names(self) -> tuple[str, ...]:
        """The events this transport emits."""
        return self._input.event_names

    def add_event_handler(self, event_name: str, handler: Callable[..., Any]) -> None:
        """Call ``handler(transport, *args)`` on the named event.

        Raises:
            VoxpipeUsageError: the transport has no such event.
        """

        def call(_input: WebsocketInputTransport, *args: Any, **kwargs: Any) -> Any:
            return handler(self, *args, **kwargs)

        self._input.add_event_handler(event_name, call)

    def event_handler(self, event_name: str) -> Callable[[_H], _H]:
        """Decorator form of :meth:`add_event_handler`."""

        def decorator(handler: _H) -> _H:
            self.add_event_handler(event_name, handler)
            return handler

        return decorator

"""The URLs of a realtime server at a host and port, spelled in one place.

The local server, the scale-out cluster's servers and balancer, the scripted fake server and the command
line all name the same endpoints (``http://host:port`` for REST, ``ws://host:port/v1/realtime`` for the
WebSocket); they ask an :class:`Endpoint` for them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Endpoint"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a realtime server listens.

    Attributes:
        host: the host or address, as it goes in a URL.
        port: the TCP port.
    """

    host: str
    port: int

    @property
    def http(self) -> str:
        """``http://host:port``: REST under ``/v1/realtime/…``, health and metrics at the root."""
        return f"http://{self.host}:{self.port}"

    @property
    def websocket_base(self) -> str:
        """``ws://host:port/v1``: the openai SDK's ``websocket_base_url``."""
        return f"ws://{self.host}:{self.port}/v1"

    @property
    def realtime(self) -> str:
        """``ws://host:port/v1/realtime``: the URL to connect (add ``?model=…``)."""
        return f"{self.websocket_base}/realtime"

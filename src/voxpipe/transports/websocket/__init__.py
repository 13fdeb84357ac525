"""WebSocket transports: a pipeline behind a WebSocket server, or dialling out as a client.

The wire format is a serializer (``voxpipe.serializers``): Twilio Media Streams for phone calls, raw
PCM for simple clients. Output audio is paced in real time, so interruptions stop the bot at once and
report the position played (see ``output.py``).
"""

from voxpipe.transports.websocket._link import LinkState
from voxpipe.transports.websocket.client import WebsocketClientInputTransport, WebsocketClientTransport
from voxpipe.transports.websocket.input import WebsocketInputTransport
from voxpipe.transports.websocket.output import WebsocketOutputTransport
from voxpipe.transports.websocket.params import WebsocketParams
from voxpipe.transports.websocket.server import WebsocketServerInputTransport, WebsocketServerTransport

__all__ = [
    "LinkState",
    "WebsocketClientInputTransport",
    "WebsocketClientTransport",
    "WebsocketInputTransport",
    "WebsocketOutputTransport",
    "WebsocketParams",
    "WebsocketServerInputTransport",
    "WebsocketServerTransport",
]

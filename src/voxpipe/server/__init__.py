"""``voxpipe serve``: a local, OpenAI-Realtime-compatible WebSocket server (beta and GA shapes).

Start one in-process::

    from voxpipe.server import LocalRealtimeServer, ServerConfig

    async with LocalRealtimeServer(ServerConfig(port=0, engines="test")) as server:
        print(server.realtime_url)          # ws://127.0.0.1:PORT/v1/realtime
        print(server.websocket_base_url)    # for AsyncOpenAI(websocket_base_url=...)

or build the ASGI app with ``create_app(config)`` and serve it yourself.
"""

from voxpipe.server.app import create_app
from voxpipe.server.config import ServerConfig, ServerLimits, SpeculationSettings
from voxpipe.server.running import LocalRealtimeServer, serve

__all__ = [
    "LocalRealtimeServer",
    "ServerConfig",
    "ServerLimits",
    "SpeculationSettings",
    "create_app",
    "serve",
]

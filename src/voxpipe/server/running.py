"""Running the server: in-process on a free loopback port (tests, demos) or in the foreground (CLI).

``LocalRealtimeServer`` binds its socket before uvicorn starts, so ``port=0`` gives a free port and the
URL is known at once; ``start`` returns only once uvicorn is accepting connections, and a start-up
failure (a port in use, an engine set that cannot load) is raised to the caller. Usage::

    async with LocalRealtimeServer(ServerConfig(port=0, engines="test")) as server:
        client = AsyncOpenAI(api_key="x", websocket_base_url=server.websocket_base_url)
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
import socket
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette

from voxpipe.errors import VoxpipeStateError, VoxpipeWorldError
from voxpipe.server.app import create_app
from voxpipe.server.config import ServerConfig
from voxpipe.server.draining import DrainingServer
from voxpipe.server.log_redaction import install_log_redaction
from voxpipe.server.websocket_protocol import protocol_class
from voxpipe.utils.endpoints import Endpoint

__all__ = ["LocalRealtimeServer", "serve", "warn_if_exposed"]

logger = logging.getLogger(__name__)



def warn_if_exposed(config: ServerConfig) -> bool:
    """Log a warning when the server listens beyond loopback without a key; True if it did.

    On loopback only local programs (and, through the Origin policy, local pages) can reach the server;
    on any other interface (``0.0.0.0`` included) anyone who can reach the port can use the models.
    """
    host = config.host.strip("[]").lower()
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback or config.api_key:
        return False
    logger.warning(
        "serving on %s WITHOUT an API key: anyone who can reach this port can open sessions and mint keys. "
        "Set --api-key (or $VOXPIPE_API_KEY), or listen on 127.0.0.1.",
        config.host,
    )
    return True


class _InProcessServer(uvicorn.Server):
    """uvicorn without signal handlers: the embedding program owns its signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _uvicorn_config(config: ServerConfig, *, log_level: str, app: Starlette | None = None) -> uvicorn.Config:
    return uvicorn.Config(
        app or create_app(config),
        ws=protocol_class(close_timeout_s=config.shutdown_grace_s),
        ws_max_size=config.limits.transport_max_message_bytes,
        ws_ping_interval=config.ping_interval_s,
        ws_ping_timeout=config.ping_interval_s,
        ws_per_message_deflate=config.per_message_deflate,
        lifespan="on",
        log_config=None,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=math.ceil(config.shutdown_grace_s) + 1,
    )


class LocalRealtimeServer:
    """The realtime server running in this event loop; ``async with`` starts and stops it.

    Args:
        config: server settings (``port=0`` picks a free port).
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._server: _InProcessServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        if self._port is None:
            raise VoxpipeStateError("LocalRealtimeServer.port read before start(); use 'async with' first")
        return self._port

    @property
    def endpoint(self) -> Endpoint:
        """The bound host and port, and the URLs they make."""
        return Endpoint(self.config.host, self.port)

    @property
    def url(self) -> str:
        """``http://host:port`` (the REST endpoints are under ``/v1/realtime/…``)."""
        return self.endpoint.http

    @property
    def websocket_base_url(self) -> str:
        """``ws://host:port/v1``: the openai SDK's ``websocket_base_url``."""
        return self.endpoint.websocket_base

    @property
    def realtime_url(self) -> str:
        """``ws://host:port/v1/realtime``: the URL to connect (add ``?model=…``)."""
        return self.endpoint.realtime

    @property
    def open_sessions(self) -> int:
        """Realtime sessions open right now (tests and benchmarks watch sessions being freed)."""
        if self._server is None:
            return 0
        app: Any = self._server.config.app
        return len(app.state.voxpipe.sessions)

    async def start(self) -> None:
        """Bind, start uvicorn and wait until it accepts connections.

        Raises:
            VoxpipeStateError: already started.
            VoxpipeWorldError: uvicorn stopped during start-up (the log says why).
        """
        if self._task is not None:
            raise VoxpipeStateError("LocalRealtimeServer.start called twice")
        sock = socket.socket(socket.AF_INET6 if ":" in self.config.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.config.host, self.config.port))
        except OSError as exc:
            sock.close()
            raise VoxpipeWorldError(
                f"cannot listen on {self.config.host}:{self.config.port}: {exc.strerror}", code="bind_failed"
            ) from exc
        self._port = sock.getsockname()[1]
        install_log_redaction([self.config.api_key], root_handlers=False)
        warn_if_exposed(self.config)
        self._server = _InProcessServer(_uvicorn_config(self.config, log_level="warning"))
        self._task = asyncio.get_running_loop().create_task(
            self._server.serve(sockets=[sock]), name=f"voxpipe server :{self._port}"
        )
        while not self._server.started:
            if self._task.done():
                sock.close()
                self._task.result()  # raises what stopped it, if anything
                raise VoxpipeWorldError("the realtime server stopped during start-up", code="startup_failed")
            await asyncio.sleep(0.01)
        logger.info("realtime server listening on %s", self.url)

    async def aclose(self) -> None:
        """Stop accepting, close the sessions and wait for uvicorn to finish. Safe to call twice."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True  # uvicorn closes open WebSockets (1012), then ends the lifespan
        grace = self.config.shutdown_grace_s + 2.0  # uvicorn's own bound plus its polling
        try:
            done, _ = await asyncio.wait({self._task}, timeout=grace)
            if not done:
                logger.warning("realtime server did not stop within %.1f s: forcing it", grace)
                self._server.force_exit = True
            await self._task
        finally:
            self._server = None
            self._task = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def serve(config: ServerConfig, *, log_level: str = "info") -> None:
    """Run the server in the foreground until SIGINT/SIGTERM (what ``voxpipe serve`` does).

    SIGTERM drains first (``voxpipe.server.draining``); SIGINT stops at once.
    """
    install_log_redaction([config.api_key], root_handlers=True)
    warn_if_exposed(config)
    app = create_app(config)
    server = DrainingServer(
        _uvicorn_config(config, log_level=log_level, app=app),
        admission=app.state.voxpipe.admission,
        drain_s=config.drain_s,
    )
    server.config.host = config.host
    server.config.port = config.port
    await server.serve()

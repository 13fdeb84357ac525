"""The ``voxpipe web`` application: the page, WebRTC signalling, and one bot per visitor.

Routes:

- ``GET /``: the page (plain HTML and JavaScript shipped in the package, no build step).
- ``POST /api/offer``: ``{"sdp", "type": "offer"}`` from the page → the answer and the visitor's id; the
  visitor's bot starts at once and lives as long as the peer connection.
- ``POST /api/visitors/{id}/leave``: the page is going away (sent with ``navigator.sendBeacon``); the bot
  is torn down without waiting for the connection to time out.
- ``GET /api/status``: how many visitors are connected (for operators and tests).
- ``WS /ws``: the fallback where WebRTC is missing: the page's audio and events over one WebSocket
  (``socket_transport.py``); the bot lives as long as the socket.

A visitor's bot ends when their connection closes (they left, it failed, or they said so); every bot is
torn down when the application shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from voxpipe.errors import VoxpipeError
from voxpipe.web.bot import BotSettings, BotTaskFactory, make_bot_task

__all__ = ["WebConfig", "create_app"]

logger = logging.getLogger(__name__)

MAX_OFFER_BYTES = 64 * 1024
TEARDOWN_TIMEOUT_S = 5.0


@dataclass(kw_only=True)
class WebConfig:
    """What the application needs.

    Attributes:
        bot: what every visitor's bot shares (the Realtime server, instructions, turn detection).
        max_visitors: visitors served at once; more get 503 (each bot holds a realtime session).
        ice_loopback: offer 127.0.0.1 as a WebRTC candidate (a browser on this machine).
        make_task: builds one visitor's pipeline task from the settings, the transport's input and output
            processors and the function that sends messages to the page; replace it to run your own bot
            (``examples/browser_bot.py``).
    """

    bot: BotSettings
    max_visitors: int = 8
    ice_loopback: bool = True
    make_task: BotTaskFactory = make_bot_task


@dataclass
class _Visitor:
    id: str
    connection: Any
    task: asyncio.Task[None] | None = None
    messages_sent: int = field(default=0)


def _page(name: str) -> str:
    return (resources.files("voxpipe.web") / "page" / name).read_text(encoding="utf-8")


class _Visitors:
    """The visitors being served and their bots' tasks; :meth:`aclose` tears every bot down."""

    def __init__(self, config: WebConfig) -> None:
        self._config = config
        self._visitors: dict[str, _Visitor] = {}
        self._sockets: dict[str, Any] = {}
        self._ids = itertools.count(1)
        self.served = 0

    def __len__(self) -> int:
        return len(self._visitors) + len(self._sockets)

    def _vad(self) -> Any:
        """A Silero analyzer per visitor when the pipeline decides the turns, else None."""
        if self._config.bot.vad != "pipeline":
            return None
        from voxpipe.audio.vad.silero import SileroVADAnalyzer

        return SileroVADAnalyzer()

    async def admit(self, sdp: str, sdp_type: str) -> tuple[str, dict[str, str]]:
        from voxpipe.transports.webrtc import WebRTCConnection, WebRTCParams, WebRTCTransport

        visitor_id = f"v{next(self._ids)}"
        connection = WebRTCConnection(ice_loopback=self._config.ice_loopback, name=f"visitor {visitor_id}")
        try:
            answer = await connection.accept(sdp, sdp_type)
        except BaseException:
            await connection.aclose()
            raise
        transport = WebRTCTransport(
            connection, WebRTCParams(vad_analyzer=self._vad()), name=f"visitor-{visitor_id}"
        )
        visitor = _Visitor(visitor_id, connection)

        def send(message: dict[str, Any]) -> None:
            if connection.send_message(message):
                visitor.messages_sent += 1

        task = self._config.make_task(self._config.bot, transport.input(), transport.output(), send)
        visitor.task = asyncio.get_running_loop().create_task(
            self._run(visitor, task), name=f"voxpipe-web.{visitor_id}"
        )
        self._visitors[visitor_id] = visitor
        self.served += 1
        return visitor_id, answer

    async def _run(self, visitor: _Visitor, task: Any) -> None:
        """Run one bot until it ends or its visitor leaves; then close the connection."""
        logger.info("visitor %s: bot started (%d connected)", visitor.id, len(self._visitors))
        try:
            await _run_until_left(visitor.id, task, visitor.connection.wait_closed())
        finally:
            await visitor.connection.aclose()
            self._visitors.pop(visitor.id, None)
            logger.info("visitor %s: bot torn down (%d connected)", visitor.id, len(self._visitors))

    async def serve_socket(self, websocket: WebSocket) -> None:
        """Run one bot over the page's WebSocket until it closes."""
        from voxpipe.web.socket_transport import PageSocket

        visitor_id = f"v{next(self._ids)}"
        await websocket.accept()
        socket = PageSocket(websocket, self._vad())
        task = self._config.make_task(self._config.bot, socket.input(), socket.output(), socket.send)
        self._sockets[visitor_id] = socket
        self.served += 1
        logger.info("visitor %s: bot started over a WebSocket", visitor_id)
        writer = asyncio.ensure_future(socket.run())
        try:
            await _run_until_left(visitor_id, task, socket.closed.wait(), writer)
        finally:
            self._sockets.pop(visitor_id, None)
            logger.info("visitor %s: bot torn down", visitor_id)

    async def leave(self, visitor_id: str) -> bool:
        visitor = self._visitors.get(visitor_id)
        if visitor is None:
            return False
        await visitor.connection.aclose()
        return True

    async def aclose(self) -> None:
        visitors = list(self._visitors.values())
        for visitor in visitors:
            await visitor.connection.aclose()
        tasks = {v.task for v in visitors if v.task is not None}
        if tasks:
            await asyncio.wait(tasks, timeout=TEARDOWN_TIMEOUT_S + 1)


def create_app(config: WebConfig) -> Starlette:
    """The Starlette application of ``voxpipe web``."""
    visitors = _Visitors(config)
    index = _page("index.html")
    script = _page("app.js")

    async def page(request: Request) -> Response:
        return HTMLResponse(index)

    async def page_script(request: Request) -> Response:
        return Response(script, media_type="text/javascript")

    async def offer(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_OFFER_BYTES:
            return JSONResponse({"error": "the offer is too large"}, status_code=413)
        try:
            data = json.loads(body)
            sdp, sdp_type = str(data["sdp"]), str(data.get("type", "offer"))
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'send JSON {"sdp": ..., "type": "offer"}'}, status_code=400)
        if len(visitors) >= config.max_visitors:
            return JSONResponse(
                {"error": f"the server is busy ({config.max_visitors} visitors); try again in a minute"},
                status_code=503,
            )
        try:
            visitor_id, answer = await visitors.admit(sdp, sdp_type)
        except VoxpipeError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({**answer, "visitor": visitor_id})

    async def leave(request: Request) -> Response:
        found = await visitors.leave(request.path_params["visitor"])
        return Response(status_code=204 if found else 404)

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    async def page_socket(websocket: WebSocket) -> None:
        if len(visitors) >= config.max_visitors:
            await websocket.close(code=1013, reason="the server is busy; try again in a minute")
            return
        await visitors.serve_socket(websocket)

    async def status(request: Request) -> Response:
        return JSONResponse({"visitors": len(visitors), "served": visitors.served})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await visitors.aclose()

    return Starlette(
        routes=[
            Route("/", page),
            Route("/app.js", page_script),
            Route("/favicon.ico", no_icon),
            Route("/api/offer", offer, methods=["POST"]),
            Route("/api/visitors/{visitor}/leave", leave, methods=["POST"]),
            Route("/api/status", status),
            WebSocketRoute("/ws", page_socket),
        ],
        lifespan=lifespan,
    )


async def _run_until_left(
    visitor_id: str, task: Any, left: Awaitable[Any], *helpers: asyncio.Future[Any]
) -> None:
    """Run ``task`` until it ends or ``left`` completes (the visitor went away), whichever comes first.

    A bot still running when its visitor leaves is cancelled and given ``TEARDOWN_TIMEOUT_S`` to stop. On the
    way out every piece still pending (``left`` and the visitor's ``helpers``, e.g. a socket writer) is
    cancelled and awaited, so no task outlives the visit. The WebRTC and WebSocket visits both end this way.
    """
    runner = asyncio.ensure_future(task.run())
    gone = asyncio.ensure_future(left)
    try:
        await asyncio.wait({runner, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not runner.done():
            await task.cancel()
        await asyncio.wait_for(runner, TEARDOWN_TIMEOUT_S)
    except TimeoutError:
        logger.warning("visitor %s: the bot did not stop in %.0f s", visitor_id, TEARDOWN_TIMEOUT_S)
    finally:
        pending = {runner, gone, *helpers}
        for piece in pending:
            if not piece.done():
                piece.cancel()
        await asyncio.wait(pending)

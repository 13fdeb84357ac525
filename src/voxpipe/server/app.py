"""The ASGI app: the realtime WebSocket, the ephemeral-key endpoints and ``/health``.

Routes:

* ``WS /v1/realtime?model=…``: beta shape when the client sends ``OpenAI-Beta: realtime=v1`` or offers the
  ``openai-beta.realtime-v1`` subprotocol, GA otherwise. When the client offers subprotocols the server
  answers ``realtime`` (browsers refuse a handshake that picks none). A missing or wrong key is answered
  like OpenAI does: the upgrade succeeds, then an ``error`` event and close 3000 (reason
  ``invalid_request_error.invalid_api_key``). GA without ``model`` gets ``missing_model`` and close 4000.
* ``POST /v1/realtime/sessions`` (beta) and ``POST /v1/realtime/client_secrets`` (GA): mint ephemeral keys.
* ``GET /health``: liveness, session count, engine set; ``GET /health/live`` and ``GET /health/ready``
  for balancers (``voxpipe.server.health``); ``GET /metrics``: Prometheus (``voxpipe.server.metrics``).

Admission (``voxpipe.server.admission``) wraps the realtime route: past ``max_sessions``, or while the
engines load or the server drains, an upgrade is refused with HTTP 503 and ``Retry-After``.

Engines named by ``ServerConfig.engines`` are loaded and warmed up in the lifespan and closed at the end;
ready ``Engines`` passed in are used as they are and left to their owner.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from voxpipe.realtime import Shape, serialize_event
from voxpipe.realtime.dialect import EventKind, dialect
from voxpipe.server.admission import Admission, AdmissionMiddleware, default_max_sessions
from voxpipe.server.auth import KeyStore, key_from_request, mask_key
from voxpipe.server.config import ServerConfig
from voxpipe.server.connection.handler import ConnectionHandler
from voxpipe.server.engines.registry import Engines, load_engines
from voxpipe.server.health import live, ready
from voxpipe.server.metrics import (
    MeteredTransport,
    ServerMetrics,
    SessionMeter,
    metered_engines,
    metrics_endpoint,
)
from voxpipe.server.origin_policy import OriginMiddleware, OriginPolicy
from voxpipe.server.rest import client_secrets, health, sessions

__all__ = ["AppState", "create_app"]

logger = logging.getLogger(__name__)

_BETA_SUBPROTOCOL = "openai-beta.realtime-v1"


@dataclass
class AppState:
    """What every request handler of one app shares."""

    config: ServerConfig
    keys: KeyStore
    admission: Admission
    metrics: ServerMetrics
    engines: Engines | None = None
    engine_set: str = "custom"
    sessions: set[ConnectionHandler] = field(default_factory=set)


class _StarletteTransport:
    """Adapts a Starlette ``WebSocket`` to the session's ``Transport``."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket

    async def receive(self) -> str | bytes | None:
        message = await self._ws.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        if text is not None:
            return str(text)
        return bytes(message.get("bytes") or b"")

    async def send_text(self, text: str) -> None:
        await self._ws.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code, reason)


def _shape(websocket: WebSocket, subprotocols: list[str]) -> Shape:
    beta_header = websocket.headers.get("openai-beta", "").replace(" ", "").lower()
    return "beta" if "realtime=v1" in beta_header or _BETA_SUBPROTOCOL in subprotocols else "ga"


async def _refuse(
    websocket: WebSocket, shape: Shape, code: str | None, message: str, close_code: int
) -> None:
    """Answer a refused handshake like OpenAI: an ``error`` event, then a close whose reason names it."""
    error = dialect(shape).server_event(
        EventKind.ERROR,
        error={
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": None,
            "event_id": None,
        },
    )
    await websocket.send_text(serialize_event(error))
    reason = "invalid_request_error" + (f".{code}" if code else "")
    await websocket.close(close_code, reason)


async def realtime_endpoint(websocket: WebSocket) -> None:
    """One realtime session per connection."""
    state: AppState = websocket.app.state.voxpipe
    subprotocols = [
        p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",") if p.strip()
    ]
    await websocket.accept(subprotocol="realtime" if "realtime" in subprotocols else None)
    shape = _shape(websocket, subprotocols)
    key = key_from_request(websocket.headers, subprotocols)
    if not state.keys.accepts(key):
        logger.info("refused a realtime connection: %s key", "missing" if key is None else "wrong")
        if key is None:
            await _refuse(websocket, shape, None, "Missing bearer or basic authentication in header", 3000)
        else:
            await _refuse(
                websocket,
                shape,
                "invalid_api_key",
                f"Incorrect API key provided: {mask_key(key)}. Check the key given to this voxpipe server.",
                3000,
            )
        return
    model = websocket.query_params.get("model")
    if not model and shape == "ga" and not websocket.query_params.get("call_id"):
        await _refuse(websocket, shape, "missing_model", "Missing required parameter: 'model'.", 4000)
        return
    ephemeral = state.keys.ephemeral(key)
    initial = ephemeral.session if ephemeral is not None and ephemeral.shape == shape else None
    assert state.engines is not None, "engines are loaded in the lifespan"
    meter = SessionMeter(state.metrics)
    session = ConnectionHandler(
        shape=shape,
        engines=state.engines,
        config=state.config,
        model=model or state.config.default_model,
        initial_update=initial,
        observer=meter,
    )
    meter.audio_formats(lambda: (session.settings.input_codec, session.settings.output_codec))
    state.metrics.sessions.inc()
    state.sessions.add(session)
    try:
        await session.run(MeteredTransport(_StarletteTransport(websocket), meter))
    except WebSocketDisconnect:
        pass
    finally:
        state.sessions.discard(session)
        meter.close()
    if websocket.application_state is not WebSocketState.DISCONNECTED:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):  # the client may be gone already
            await websocket.close(1000)


def create_app(config: ServerConfig) -> Starlette:
    """Build the ASGI app for ``config`` (serve it with uvicorn, or use ``LocalRealtimeServer``)."""
    engine_set = config.engines if isinstance(config.engines, str) else None
    admission = Admission(
        config.max_sessions or default_max_sessions(engine_set),
        on_refused=lambda refusal: metrics.refused.labels(refusal.reason).inc(),
    )
    metrics = ServerMetrics(
        open_sessions=lambda: admission.open_sessions,
        max_sessions=lambda: admission.max_sessions,
        ready=lambda: admission.readiness() is None,
    )
    state = AppState(config=config, keys=KeyStore(config.api_key), admission=admission, metrics=metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = isinstance(config.engines, str)
        if isinstance(config.engines, str):
            engines = load_engines(config.engines, **dict(config.engine_options))
            state.engine_set = config.engines
        else:
            engines = config.engines
        state.engines = metered_engines(engines, metrics)
        await state.engines.warm_up()
        admission.mark_ready()
        try:
            yield
        finally:
            admission.stop()
            if owned:
                await state.engines.aclose()

    app = Starlette(
        routes=[
            WebSocketRoute("/v1/realtime", realtime_endpoint),
            Route("/v1/realtime/sessions", sessions, methods=["POST"]),
            Route("/v1/realtime/client_secrets", client_secrets, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/health/live", live, methods=["GET"]),
            Route("/health/ready", ready, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        middleware=[
            Middleware(OriginMiddleware, policy=OriginPolicy(config.allowed_origins)),  # browsers first
            Middleware(AdmissionMiddleware, admission=admission, paths=frozenset({"/v1/realtime"})),
        ],
        lifespan=lifespan,
    )
    app.state.voxpipe = state
    return app

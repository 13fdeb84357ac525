"""The HTTP endpoints: ephemeral keys (beta and GA) and ``/health``.

Both key endpoints need the server key when one is configured (``401`` otherwise, OpenAI's error body) and
validate the session config they are given exactly as ``session.update`` would (``400`` with the
protocol error). The key carries that config: a WebSocket opened with it starts with it applied.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from voxpipe.realtime import Shape, new_event_id
from voxpipe.server.auth import key_from_request
from voxpipe.server.connection.errors import ProtocolError
from voxpipe.server.connection.session_update import apply_update, default_session

if TYPE_CHECKING:
    from voxpipe.server.app import AppState

__all__ = ["client_secrets", "health", "sessions"]


def _error(status: int, message: str, code: str | None, param: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


async def _body(request: Request) -> dict[str, Any] | JSONResponse:
    state: AppState = request.app.state.voxpipe
    if state.keys.required and not state.keys.is_server_key(key_from_request(request.headers, [])):
        return _error(401, "Incorrect or missing API key.", "invalid_api_key")
    raw = await request.body()
    if len(raw) > 1024 * 1024:
        return _error(400, "The request body is larger than 1 MiB.", "invalid_value")
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return _error(400, "The request body is not valid JSON.", "invalid_json")
    if not isinstance(body, dict):
        return _error(400, "The request body must be a JSON object.", "invalid_type")
    return body


def _session(shape: Shape, request: Request, update: dict[str, Any]) -> dict[str, Any]:
    state: AppState = request.app.state.voxpipe
    model = str(update.get("model") or state.config.default_model)
    base = default_session(
        shape,
        session_id=new_event_id("sess_"),
        model=model,
        expires_at=int(time.time() + state.config.limits.max_session_s),
        instructions=state.config.instructions,
    )
    session, _ = apply_update(shape, base, update)
    return session


async def sessions(request: Request) -> JSONResponse:
    """Beta ``POST /v1/realtime/sessions``: a session object with ``client_secret {value, expires_at}``."""
    body = await _body(request)
    if isinstance(body, JSONResponse):
        return body
    state: AppState = request.app.state.voxpipe
    try:
        session = _session("beta", request, body)
    except ProtocolError as exc:
        return _error(400, exc.message, exc.code, exc.param)
    key = state.keys.mint("beta", body, state.config.ephemeral_key_ttl_s)
    session["client_secret"] = {"value": key.value, "expires_at": key.expires_at}
    return JSONResponse(session)


async def client_secrets(request: Request) -> JSONResponse:
    """GA ``POST /v1/realtime/client_secrets``: ``{value, expires_at, session}``."""
    body = await _body(request)
    if isinstance(body, JSONResponse):
        return body
    state: AppState = request.app.state.voxpipe
    expires_after = body.get("expires_after") or {}
    seconds = expires_after.get("seconds", 600) if isinstance(expires_after, dict) else 600
    if not isinstance(seconds, int) or not 10 <= seconds <= 7200:
        return _error(400, "expires_after.seconds must be an integer within 10..7200.", "invalid_value")
    update = body.get("session") or {"type": "realtime"}
    if not isinstance(update, dict):
        return _error(400, "session must be an object.", "invalid_type", "session")
    update.setdefault("type", "realtime")
    try:
        session = _session("ga", request, update)
    except ProtocolError as exc:
        return _error(400, exc.message, exc.code, exc.param)
    key = state.keys.mint("ga", update, seconds)
    session["client_secret"] = {"value": key.value, "expires_at": key.expires_at}  # the SDK type requires it
    return JSONResponse({"value": key.value, "expires_at": key.expires_at, "session": session})


async def health(request: Request) -> JSONResponse:
    """Liveness: ``{"status": "ok", "sessions": n, "engines": name}``."""
    state: AppState = request.app.state.voxpipe
    return JSONResponse({"status": "ok", "sessions": len(state.sessions), "engines": state.engine_set})

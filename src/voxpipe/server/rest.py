"""The HTTP endpoints: ephemeral keys (beta and GA) and ``/health``.

Both key endpoints need the server key when one is configured (``401`` otherwise, OpenAI's error body) and
validate the session config they are given exactly as ``session.update`` would: the same limits, the same
protocol models, the same codes (``400`` with the protocol error; never a 500). The body is read in chunks
and refused with ``413`` as soon as it passes 1 MiB. The key carries the validated config: a WebSocket
opened with it starts with it applied.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from voxpipe.realtime import EventValidationError, ProtocolModel, Shape, new_event_id, parse_client_event
from voxpipe.realtime.dialect import dialect
from voxpipe.server.auth import key_from_request
from voxpipe.server.connection.errors import ProtocolError
from voxpipe.server.connection.session_update import apply_update, default_session
from voxpipe.server.input_limits import check_event, load_event

if TYPE_CHECKING:
    from voxpipe.server.app import AppState

__all__ = ["client_secrets", "health", "sessions"]


_MAX_BODY_BYTES = 1024 * 1024
_BETA_KEY_FIELDS = ("client_secret",)
"""Fields of a beta key request that configure the key, not the session (OpenAI's ``expires_at`` anchor)."""
_GA_FIELDS = frozenset({"expires_after", "session"})


def _error(status: int, message: str, code: str | None, param: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def _protocol_error(exc: ProtocolError, *, param_prefix: str = "") -> JSONResponse:
    param = exc.param
    if param is not None and param_prefix and param.startswith(param_prefix):
        param = param[len(param_prefix) :]
    return _error(400, exc.message, exc.code, param)


async def _read_capped(request: Request) -> bytes | JSONResponse:
    """The body, read chunk by chunk and refused (413) as soon as it passes the cap."""
    too_large = _error(
        413, f"The request body is larger than {_MAX_BODY_BYTES} bytes.", "request_body_too_large"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _MAX_BODY_BYTES:
        return too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_BODY_BYTES:
            return too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _body(request: Request) -> dict[str, Any] | JSONResponse:
    state: AppState = request.app.state.voxpipe
    if state.keys.required and not state.keys.is_server_key(key_from_request(request.headers, [])):
        return _error(401, "Incorrect or missing API key.", "invalid_api_key")
    raw = await _read_capped(request)
    if isinstance(raw, JSONResponse):
        return raw
    if not raw.strip():
        return {}
    try:
        body = load_event(raw, state.config.limits)
    except ProtocolError as exc:
        message = "The request body is not valid JSON." if exc.code == "invalid_json" else exc.message
        return _error(400, message, exc.code, exc.param)
    return body


def _validated_update(shape: Shape, request: Request, update: dict[str, Any]) -> ProtocolModel:
    """Validate ``update`` exactly as a ``session.update`` of ``shape`` is (same models, limits, codes).

    Raises:
        ProtocolError: what ``session.update`` would have answered, ``param`` starting with ``session.``.
    """
    state: AppState = request.app.state.voxpipe
    event = {"type": "session.update", "session": update}
    check_event(event, state.config.limits)
    try:
        parsed: Any = parse_client_event(event, shape=shape, strict=True)
    except EventValidationError as exc:
        raise ProtocolError(exc.message, code=exc.code, param=exc.param) from exc
    validated: ProtocolModel = parsed.session
    return validated


def _session(shape: Shape, request: Request, update: ProtocolModel) -> dict[str, Any]:
    state: AppState = request.app.state.voxpipe
    model = str(getattr(update, "model", None) or state.config.default_model)
    session_dialect = dialect(shape)
    base = default_session(
        session_dialect,
        session_id=new_event_id("sess_"),
        model=model,
        expires_at=int(time.time() + state.config.limits.max_session_s),
        instructions=state.config.instructions,
    )
    session, _ = apply_update(session_dialect, base, update)
    return session.to_dict()


async def sessions(request: Request) -> JSONResponse:
    """Beta ``POST /v1/realtime/sessions``: a session object with ``client_secret {value, expires_at}``.

    The body is a beta session config, validated like ``session.update`` (unknown fields: 400
    ``unknown_parameter``); ``client_secret`` (OpenAI's expiry anchor) is accepted and ignored.
    """
    body = await _body(request)
    if isinstance(body, JSONResponse):
        return body
    state: AppState = request.app.state.voxpipe
    for name in _BETA_KEY_FIELDS:
        body.pop(name, None)
    try:
        update = _validated_update("beta", request, body)
        session = _session("beta", request, update)
    except ProtocolError as exc:
        return _protocol_error(exc, param_prefix="session.")
    key = state.keys.mint("beta", update, state.config.ephemeral_key_ttl_s)
    session["client_secret"] = {"value": key.value, "expires_at": key.expires_at}
    return JSONResponse(session)


async def client_secrets(request: Request) -> JSONResponse:
    """GA ``POST /v1/realtime/client_secrets``: ``{value, expires_at, session}``.

    The body is ``{expires_after?, session?}``; ``session`` is validated like a GA ``session.update``.
    """
    body = await _body(request)
    if isinstance(body, JSONResponse):
        return body
    state: AppState = request.app.state.voxpipe
    unknown = sorted(set(body) - _GA_FIELDS)
    if unknown:
        return _error(400, f"Unknown parameter: '{unknown[0][:64]}'.", "unknown_parameter", unknown[0][:64])
    expires_after = body.get("expires_after") or {}
    if not isinstance(expires_after, dict):
        return _error(400, "expires_after must be an object.", "invalid_type", "expires_after")
    seconds = expires_after.get("seconds", 600)
    if type(seconds) is not int or not 10 <= seconds <= 7200:
        return _error(
            400,
            "expires_after.seconds must be an integer within 10..7200.",
            "invalid_value",
            "expires_after.seconds",
        )
    update = body.get("session", {"type": "realtime"})
    if not isinstance(update, dict):
        return _error(400, "session must be an object.", "invalid_type", "session")
    update.setdefault("type", "realtime")
    try:
        validated = _validated_update("ga", request, update)
        session = _session("ga", request, validated)
    except ProtocolError as exc:
        return _protocol_error(exc)
    key = state.keys.mint("ga", validated, seconds)
    session["client_secret"] = {"value": key.value, "expires_at": key.expires_at}  # the SDK type requires it
    return JSONResponse({"value": key.value, "expires_at": key.expires_at, "session": session})


async def health(request: Request) -> JSONResponse:
    """Liveness: ``{"status": "ok", "sessions": n, "engines": name}``."""
    state: AppState = request.app.state.voxpipe
    return JSONResponse({"status": "ok", "sessions": len(state.sessions), "engines": state.engine_set})

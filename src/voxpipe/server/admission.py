"""Admission control: how many sessions this server takes, and whether it takes any right now.

A load balancer needs two answers from a server: *may I send you a new session?* (readiness) and *are
you refusing one?* (an HTTP status it understands). ``Admission`` holds the serving state and the count
of open sessions; ``AdmissionMiddleware`` refuses a WebSocket upgrade on the realtime path with
``503 Service Unavailable`` and ``Retry-After`` *before* the upgrade, so a balancer can send the request
to another server (HAProxy ``retry-on 503``, nginx ``proxy_next_upstream http_503``) and a direct client
sees a plain HTTP error instead of a session that dies at once.

Serving states (one ``_set_state`` checks every move)::

    STARTING --ready--> READY --drain--> DRAINING --stop--> STOPPED
        \\____________________________________________/^

* STARTING: engines are loading; no sessions, not ready.
* READY: sessions are admitted while fewer than ``max_sessions`` are open; ready while not full.
* DRAINING: SIGTERM arrived; no new sessions, open ones go on until they end or the drain time is up.
* STOPPED: the server is shutting down.

The count is changed only on the event loop, between awaits, so checking and taking a slot is atomic.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voxpipe.errors import VoxpipeStateError, VoxpipeUsageError

__all__ = [
    "DEFAULT_MAX_SESSIONS",
    "Admission",
    "AdmissionMiddleware",
    "Refusal",
    "ServingState",
    "default_max_sessions",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_SESSIONS: dict[str | None, int] = {
    "local": 4,
    "http": 64,
    "test": 200,
    None: 100,
}
"""Sessions per server by engine set, when ``--max-sessions`` is not given.

``local`` runs Whisper, a 0.5B LLM and Piper on the server's own CPU: three people speaking at once is
the design target on two cores (p95 first audio under 1.5 s), so four sessions (not all speaking at the
same time) is the limit. ``http`` keeps only VAD and audio codecs in process (the models are on a
serving engine). ``test`` engines cost almost nothing (200 sessions is the load test's figure). Ready
``Engines`` passed in (key ``None``) get 100. ``docs/deploy.md`` has the measured figures."""


def default_max_sessions(engine_set: str | None) -> int:
    """The default session limit of an engine set (see ``DEFAULT_MAX_SESSIONS``); unknown names get 100."""
    return DEFAULT_MAX_SESSIONS.get(engine_set, DEFAULT_MAX_SESSIONS[None])


class ServingState(enum.Enum):
    """Whether the server takes sessions (see the module docstring)."""

    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    STOPPED = "stopped"


_MOVES: dict[ServingState, frozenset[ServingState]] = {
    ServingState.STARTING: frozenset({ServingState.READY, ServingState.STOPPED}),
    ServingState.READY: frozenset({ServingState.DRAINING, ServingState.STOPPED}),
    ServingState.DRAINING: frozenset({ServingState.STOPPED}),
    ServingState.STOPPED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a session was not admitted, and when to try again.

    Attributes:
        reason: ``full``, ``starting``, ``draining`` or ``stopped`` (a metrics label).
        message: one sentence for the client.
        retry_after_s: the ``Retry-After`` value, in whole seconds.
    """

    reason: str
    message: str
    retry_after_s: int


_NOT_SERVING = {
    ServingState.STARTING: Refusal("starting", "The server is loading its models; try again shortly.", 5),
    ServingState.DRAINING: Refusal("draining", "The server is shutting down; connect to another one.", 5),
    ServingState.STOPPED: Refusal("stopped", "The server is shutting down; connect to another one.", 5),
}


class Admission:
    """The serving state and the open-session count of one server.

    Args:
        max_sessions: sessions admitted at once (at least 1).
        on_refused: called with the refusal of every session turned away (metrics).
    """

    def __init__(self, max_sessions: int, on_refused: Callable[[Refusal], None] | None = None) -> None:
        if max_sessions < 1:
            raise VoxpipeUsageError(f"max_sessions must be at least 1, got {max_sessions}")
        self.max_sessions = max_sessions
        self._on_refused = on_refused
        self._state = ServingState.STARTING
        self._open = 0

    def __repr__(self) -> str:
        return f"Admission({self._state.value}, {self._open}/{self.max_sessions})"

    @property
    def state(self) -> ServingState:
        """The serving state."""
        return self._state

    @property
    def open_sessions(self) -> int:
        """Sessions admitted and not yet released."""
        return self._open

    def _set_state(self, new: ServingState) -> None:
        old = self._state
        if new is old:
            return
        if new not in _MOVES[old]:
            raise VoxpipeStateError(f"admission cannot go from {old.value} to {new.value}")
        self._state = new
        logger.info("serving state %s -> %s (%d sessions open)", old.value, new.value, self._open)

    def mark_ready(self) -> None:
        """The engines are loaded: start admitting sessions."""
        self._set_state(ServingState.READY)

    def start_draining(self) -> None:
        """Stop admitting (readiness turns false at once); open sessions go on. Safe to call twice."""
        if self._state is ServingState.READY:
            self._set_state(ServingState.DRAINING)

    def stop(self) -> None:
        """The server is going down. Safe to call twice."""
        self._set_state(ServingState.STOPPED)

    def readiness(self) -> Refusal | None:
        """None when a new session would be admitted now, else why not (``full`` when at the limit)."""
        refusal = _NOT_SERVING.get(self._state)
        if refusal is not None:
            return refusal
        if self._open >= self.max_sessions:
            return Refusal(
                "full", f"The server is at its limit of {self.max_sessions} sessions; try again shortly.", 1
            )
        return None

    def try_admit(self) -> Refusal | None:
        """Take a slot and return None, or return why not (and report the refusal)."""
        refusal = self.readiness()
        if refusal is None:
            self._open += 1
            return None
        if self._on_refused is not None:
            self._on_refused(refusal)
        return refusal

    def release(self) -> None:
        """Give back a slot taken by ``try_admit``."""
        if self._open <= 0:
            raise VoxpipeStateError("Admission.release called with no session open")
        self._open -= 1


class AdmissionMiddleware:
    """ASGI middleware: admits each WebSocket on ``paths`` through ``admission`` or refuses it with 503.

    The refusal is an HTTP response to the upgrade request (the ASGI ``websocket.http.response``
    extension, which uvicorn implements), with ``Retry-After`` and an OpenAI-style error body. A server
    without that extension can only refuse with 403; the middleware then closes before accepting.

    Args:
        app: the wrapped ASGI app.
        admission: the gate.
        paths: the WebSocket paths that open sessions.
    """

    def __init__(self, app: Any, admission: Admission, paths: frozenset[str]) -> None:
        self._app = app
        self._admission = admission
        self._paths = paths

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket" or scope.get("path") not in self._paths:
            await self._app(scope, receive, send)
            return
        refusal = self._admission.try_admit()
        if refusal is None:
            try:
                await self._app(scope, receive, send)
            finally:
                self._admission.release()
            return
        logger.info("refused a session (%s): %s", refusal.reason, self._admission)
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1013, "reason": refusal.reason})
            return
        body = json.dumps(
            {
                "error": {
                    "message": refusal.message,
                    "type": "server_error",
                    "param": None,
                    "code": f"server_{refusal.reason}",
                }
            }
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(refusal.retry_after_s).encode()),
        ]
        await send({"type": "websocket.http.response.start", "status": 503, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})

"""Liveness and readiness, for load balancers and orchestrators.

* ``GET /health/live``: 200 while the process serves HTTP at all, whatever its state (an orchestrator
  restarts a server that fails it; a full or draining server must not be restarted).
* ``GET /health/ready``: 200 when a new session would be admitted now; 503 with ``Retry-After`` and the
  reason (``full``, ``starting``, ``draining``, ``stopped``) otherwise. A balancer health-checks this one
  and sends new sessions only to servers that pass (HAProxy ``option httpchk GET /health/ready``).

Both answer ``{"status", "sessions", "max_sessions", "state"}`` in JSON; ``/health`` (liveness with the
engine set) stays as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from voxpipe.server.admission import Admission

__all__ = ["live", "ready"]


def _body(admission: Admission, status: str) -> dict[str, object]:
    return {
        "status": status,
        "state": admission.state.value,
        "sessions": admission.open_sessions,
        "max_sessions": admission.max_sessions,
    }


async def live(request: Request) -> JSONResponse:
    """Liveness: always 200 while the event loop answers."""
    admission: Admission = request.app.state.voxpipe.admission
    return JSONResponse(_body(admission, "alive"))


async def ready(request: Request) -> JSONResponse:
    """Readiness: 200 when a session would be admitted now, else 503 with the reason."""
    admission: Admission = request.app.state.voxpipe.admission
    refusal = admission.readiness()
    if refusal is None:
        return JSONResponse(_body(admission, "ready"))
    return JSONResponse(
        _body(admission, refusal.reason),
        status_code=503,
        headers={"Retry-After": str(refusal.retry_after_s)},
    )

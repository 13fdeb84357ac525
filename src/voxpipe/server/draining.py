"""Graceful shutdown behind a load balancer: on SIGTERM stop being ready first, then drain, then stop.

``DrainingServer`` is uvicorn's server with one change to its SIGTERM handling:

1. SIGTERM: admission moves to ``draining`` at once. ``/health/ready`` answers 503 and new sessions are
   refused with 503 (a balancer retries them on another server); open sessions go on.
2. Each uvicorn tick (0.1 s) checks whether the drain is over: no session left, or ``drain_s`` passed.
3. Then uvicorn's own shutdown runs: it stops listening, closes the remaining WebSockets with 1012
   (service restart: clients reconnect, through the balancer, to another server) and ends the lifespan.

SIGINT (Ctrl-C), or a second SIGTERM, skips the drain and stops at once, as before.
"""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType

import uvicorn

from voxpipe.server.admission import Admission

__all__ = ["DrainingServer"]

logger = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain on SIGTERM (see the module docstring).

    Args:
        config: the uvicorn config (its app is ours: ``app.state.voxpipe.admission`` is read).
        admission: the app's admission gate.
        drain_s: the longest drain; 0 stops at once like plain uvicorn.
    """

    def __init__(self, config: uvicorn.Config, *, admission: Admission, drain_s: float) -> None:
        super().__init__(config)
        self._admission = admission
        self._drain_s = drain_s
        self._drain_deadline: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """SIGTERM starts the drain; anything else (or a second SIGTERM) is uvicorn's prompt exit."""
        draining = self._drain_deadline is not None or self.should_exit
        if sig == signal.SIGTERM and not draining and self._drain_s > 0:
            self._drain_deadline = time.monotonic() + self._drain_s
            self._admission.start_draining()
            logger.info(
                "SIGTERM: not ready any more; draining %d sessions for at most %.1f s",
                self._admission.open_sessions,
                self._drain_s,
            )
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        """End the drain once no session is left or its time is up, then let uvicorn decide."""
        deadline = self._drain_deadline
        if deadline is not None and not self.should_exit:
            left = self._admission.open_sessions
            if left == 0 or time.monotonic() >= deadline:
                logger.info("drain over: closing %d sessions with 1012 and stopping", left)
                super().handle_exit(signal.SIGTERM, None)
        return await super().on_tick(counter)

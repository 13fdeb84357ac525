"""Cancelling a processor's tasks and waiting for them, without ever swallowing the caller's cancellation."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["CLEANUP_TIMEOUT_S", "cancel_and_wait"]

logger = logging.getLogger("voxpipe.processors.frame_processor")

CLEANUP_TIMEOUT_S = 2.0
"""How long cleanup waits for a processor's tasks to finish after cancelling them."""


async def cancel_and_wait(
    tasks: set[asyncio.Task[Any]], *, owner: object, timeout: float = CLEANUP_TIMEOUT_S
) -> None:
    """Cancel ``tasks`` and wait for them to end; warn about any that ignore cancellation.

    Never swallows the caller's own cancellation: ``asyncio.wait`` raises it.
    """
    current = asyncio.current_task()
    pending = {task for task in tasks if task is not current and not task.done()}
    for task in pending:
        task.cancel()
    if not pending:
        return
    _, still_running = await asyncio.wait(pending, timeout=timeout)
    for task in still_running:
        logger.warning(
            "%s: task %s did not stop within %.1f s of cancellation", owner, task.get_name(), timeout
        )

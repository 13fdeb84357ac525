"""``PipelineRunner``: runs a task and turns Ctrl-C or SIGTERM into a clean cancellation."""

from __future__ import annotations

import asyncio
import logging
import signal

from voxpipe.pipeline.task import PipelineTask

__all__ = ["PipelineRunner"]

logger = logging.getLogger(__name__)


class PipelineRunner:
    """Runs pipeline tasks.

    Args:
        name: a readable name for logs.
        handle_sigint: cancel the running task on Ctrl-C instead of dying mid-frame.
        handle_sigterm: the same for SIGTERM (what process managers send).
    """

    def __init__(
        self, *, name: str | None = None, handle_sigint: bool = True, handle_sigterm: bool = True
    ) -> None:
        self.name = name or "PipelineRunner"
        self._signals = [
            sig
            for sig, wanted in ((signal.SIGINT, handle_sigint), (signal.SIGTERM, handle_sigterm))
            if wanted
        ]
        self._tasks: list[PipelineTask] = []
        self._cancellers: set[asyncio.Task[None]] = set()

    async def run(self, task: PipelineTask) -> None:
        """Run ``task`` to its end; a handled signal cancels it cleanly."""
        loop = asyncio.get_running_loop()
        installed = self._install_signal_handlers(loop)
        self._tasks.append(task)
        try:
            await task.run()
        finally:
            self._tasks.remove(task)
            for sig in installed:
                loop.remove_signal_handler(sig)
            if self._cancellers:
                await asyncio.wait(self._cancellers)

    async def cancel(self) -> None:
        """Cancel every task this runner is running."""
        for task in list(self._tasks):
            await task.cancel()

    async def stop_when_done(self) -> None:
        """End every running task gracefully once its queued frames are processed."""
        for task in list(self._tasks):
            await task.stop_when_done()

    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> list[signal.Signals]:
        installed = []
        for sig in self._signals:
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):
                logger.debug("%s: cannot handle %s here (not the main thread?)", self.name, sig.name)
                continue
            installed.append(sig)
        return installed

    def _on_signal(self, sig: signal.Signals) -> None:
        logger.warning("%s: got %s, cancelling", self.name, sig.name)
        canceller = asyncio.get_running_loop().create_task(self.cancel(), name=f"{self.name}.cancel")
        self._cancellers.add(canceller)
        canceller.add_done_callback(self._cancellers.discard)

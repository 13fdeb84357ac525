"""``UserBotLatencyLogObserver``: logs each turn's user-to-bot latency, and a summary when the run ends."""

from __future__ import annotations

import logging
from statistics import mean

from voxpipe.observers.user_bot_latency_observer import UserBotLatencyObserver

__all__ = ["UserBotLatencyLogObserver"]

logger = logging.getLogger(__name__)


class UserBotLatencyLogObserver(UserBotLatencyObserver):
    """Logs (INFO) the time from the user's end of speech to the bot's first audio, per turn."""

    async def on_latency(self, latency_s: float) -> None:
        """Log one turn's latency."""
        logger.info("user stopped speaking -> bot started speaking: %.3f s", latency_s)

    async def on_pipeline_finished(self) -> None:
        """Log the average, lowest and highest latency of the run."""
        if self.latencies:
            logger.info(
                "user-to-bot latency over %d turns: average %.3f s, min %.3f s, max %.3f s",
                len(self.latencies),
                mean(self.latencies),
                min(self.latencies),
                max(self.latencies),
            )
        await super().on_pipeline_finished()

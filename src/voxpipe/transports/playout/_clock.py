"""``ListenerClock``: the timeline of a listener hearing audio that is handed over in chunks.

Both directions of a real-time transport pace audio the same way: the output's player hands a chunk to
its sink when the listener is about to need it, and a file input hands a chunk to the pipeline when a
microphone would have delivered it. The clock keeps when the listener will have heard everything handed
over so far (``end``); a chunk handed over after the listener ran dry starts playing at that moment, so a
late timer leaves a gap but never a burst that would play faster than speech.

Every time comes from one clock, the event loop's (``loop.time()``), so positions computed from it can
be compared with each other exactly.
"""

from __future__ import annotations

import asyncio

__all__ = ["ListenerClock"]


class ListenerClock:
    """When the listener hears each chunk.

    Args:
        bytes_per_second: how much audio the listener hears per second (rate x channels x sample width).
    """

    def __init__(self, bytes_per_second: int) -> None:
        self.bytes_per_second = bytes_per_second
        self.end = 0.0  # loop time at which the listener has heard everything handed over

    @staticmethod
    def now() -> float:
        """The loop's clock: every time in this package comes from it."""
        return asyncio.get_running_loop().time()

    def hand_over(self, nbytes: int, now: float | None = None) -> tuple[float, float]:
        """Account for ``nbytes`` handed over now; returns when the listener starts and ends hearing them."""
        now = self.now() if now is None else now
        start = max(now, self.end)  # a listener that ran dry starts again now
        self.end = start + nbytes / self.bytes_per_second
        return start, self.end

    async def wait_until_due(self, lead: float = 0.0) -> None:
        """Sleep until the listener has at most ``lead`` seconds of audio left to hear."""
        delay = self.end - lead - self.now()
        if delay > 0:
            await asyncio.sleep(delay)

    def remaining(self, now: float | None = None) -> float:
        """Seconds of handed-over audio the listener has not heard yet."""
        return max(0.0, self.end - (self.now() if now is None else now))

    def reset(self) -> None:
        """The listener's audio was dropped: the next chunk starts whenever it is handed over."""
        self.end = 0.0

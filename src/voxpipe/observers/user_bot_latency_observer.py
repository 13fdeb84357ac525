"""``UserBotLatencyObserver``: how long the bot takes to answer, turn by turn.

A turn's latency runs from the moment the user stopped speaking (``UserStoppedSpeakingFrame``) to the moment
the bot's audio started playing (``BotStartedSpeakingFrame``), both read from the pushes' own timestamps
(one monotonic clock), so a slow observer queue does not add to the figure. A user who starts speaking
again before the bot answers opens a new turn. Each measurement fires
``on_latency_measured(observer, latency_s)`` and is kept in :attr:`UserBotLatencyObserver.latencies`.
"""

from __future__ import annotations

from voxpipe.frames.speech import BotStartedSpeakingFrame, UserStartedSpeakingFrame, UserStoppedSpeakingFrame
from voxpipe.observers.base_observer import BaseObserver, FramePushed
from voxpipe.utils.event_emitter import EventEmitter

__all__ = ["UserBotLatencyObserver"]

_DOWNSTREAM = 1
"""``FrameDirection.DOWNSTREAM`` (an IntEnum of the processors layer, which observers do not import)."""

_SEEN_LIMIT = 256
"""Frame ids remembered to count each frame once however many hops it makes (speaking frames are rare)."""


class UserBotLatencyObserver(BaseObserver, EventEmitter):
    """Measures user-stopped-speaking to bot-started-speaking, per turn."""

    frame_types = (UserStartedSpeakingFrame, UserStoppedSpeakingFrame, BotStartedSpeakingFrame)

    def __init__(self) -> None:
        super().__init__()
        self.latencies: list[float] = []
        self._user_stopped_ns: int | None = None
        self._seen: list[int] = []
        self._register_event_handler("on_latency_measured")

    def _first_sight(self, frame_id: int) -> bool:
        if frame_id in self._seen:
            return False
        self._seen.append(frame_id)
        if len(self._seen) > _SEEN_LIMIT:
            del self._seen[: _SEEN_LIMIT // 2]
        return True

    async def on_push_frame(self, data: FramePushed) -> None:
        """Note when the user stops; measure when the bot starts."""
        frame = data.frame
        if data.direction != _DOWNSTREAM or not self._first_sight(frame.id):
            return
        if isinstance(frame, UserStartedSpeakingFrame):
            self._user_stopped_ns = None
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._user_stopped_ns = data.timestamp
        elif isinstance(frame, BotStartedSpeakingFrame) and self._user_stopped_ns is not None:
            latency = (data.timestamp - self._user_stopped_ns) / 1e9
            self._user_stopped_ns = None
            self.latencies.append(latency)
            await self.on_latency(latency)
            await self._call_event_handler("on_latency_measured", latency)

    async def on_latency(self, latency_s: float) -> None:
        """Called with each measurement before the event fires (subclasses log or export it)."""

    async def on_pipeline_finished(self) -> None:
        """Stop dispatching events."""
        await self._close_event_handlers()

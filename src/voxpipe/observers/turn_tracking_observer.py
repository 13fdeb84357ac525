"""Counts conversation turns: a turn starts when the user starts speaking and ends when the bot stops.

Events (handlers get the observer first): ``on_turn_started(observer, turn_number)`` and
``on_turn_ended(observer, turn_number, duration_s, was_interrupted)``.
"""

from __future__ import annotations

import time

from voxpipe.frames.speech import BotStartedSpeakingFrame, BotStoppedSpeakingFrame, UserStartedSpeakingFrame
from voxpipe.observers.base_observer import BaseObserver, FramePushed
from voxpipe.utils.event_emitter import EventEmitter

__all__ = ["TurnTrackingObserver"]

_TRACKED = (UserStartedSpeakingFrame, BotStartedSpeakingFrame, BotStoppedSpeakingFrame)


class TurnTrackingObserver(BaseObserver, EventEmitter):
    """Tracks turns from the speaking frames it sees (each frame counted once, however many hops it makes)."""

    frame_types = _TRACKED

    def __init__(self) -> None:
        super().__init__()
        self.turn_count = 0
        self._in_turn = False
        self._bot_speaking = False
        self._turn_start = 0.0
        self._seen: set[int] = set()
        self._register_event_handler("on_turn_started")
        self._register_event_handler("on_turn_ended")

    async def on_push_frame(self, data: FramePushed) -> None:
        """Update the turn state from speaking frames."""
        frame = data.frame
        if not isinstance(frame, _TRACKED) or frame.id in self._seen:
            return
        self._seen.add(frame.id)
        if isinstance(frame, UserStartedSpeakingFrame):
            if self._in_turn:
                await self._end_turn(interrupted=self._bot_speaking)
            await self._start_turn()
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
            if self._in_turn:
                await self._end_turn(interrupted=False)

    async def _start_turn(self) -> None:
        self.turn_count += 1
        self._in_turn = True
        self._turn_start = time.monotonic()
        await self._call_event_handler("on_turn_started", self.turn_count)

    async def _end_turn(self, *, interrupted: bool) -> None:
        self._in_turn = False
        duration = time.monotonic() - self._turn_start
        await self._call_event_handler("on_turn_ended", self.turn_count, duration, interrupted)

    async def on_pipeline_finished(self) -> None:
        """Close the last turn and stop dispatching events."""
        if self._in_turn:
            await self._end_turn(interrupted=False)
        self._seen.clear()
        await self._close_event_handlers()

"""What an interruption leaves behind: how much of the answer was heard, and what the server must forget.

The output transport knows what was really played; it reports it upstream in a ``PlaybackPositionFrame``
when it stops for an interruption. The service then cuts the assistant item at that point
(``conversation.item.truncate``), deletes it when nothing was heard, and leaves it alone when everything was.
"""

from __future__ import annotations

import asyncio
from typing import Any

from voxpipe.realtime import ConversationItemDeleteEvent, ConversationItemTruncateEvent
from voxpipe.services._realtime_service.state import AnswerAudio

__all__ = ["PLAYBACK_REPORT_TIMEOUT_S", "PlaybackReports", "forget_unheard"]

PLAYBACK_REPORT_TIMEOUT_S = 0.2
"""How long an interruption waits for the output transport to say how much it played."""


class PlaybackReports:
    """The latest playback position reported by the output, for the interruption being handled."""

    def __init__(self) -> None:
        self._position: int | None = None
        self._reported = asyncio.Event()

    def expect(self) -> None:
        """An interruption starts: forget any earlier report."""
        self._position = None
        self._reported.clear()

    def report(self, position_ms: int) -> None:
        """The output says how much of the current answer it played."""
        self._position = position_ms
        self._reported.set()

    async def position(self, timeout: float = PLAYBACK_REPORT_TIMEOUT_S) -> int | None:
        """The reported position, waiting up to ``timeout`` for it; None when no output reports one."""
        if self._position is None:
            try:
                async with asyncio.timeout(timeout):
                    await self._reported.wait()
            except TimeoutError:
                return None
        return self._position


def forget_unheard(answer: AnswerAudio, played_ms: int) -> Any | None:
    """The event that makes the server forget the unheard part of ``answer`` (None: all of it was heard)."""
    item_id = answer.item_id
    if item_id is None or played_ms >= answer.received_ms.get(item_id, 0.0):
        return None
    if played_ms <= 0:
        return ConversationItemDeleteEvent(item_id=item_id)
    return ConversationItemTruncateEvent(item_id=item_id, content_index=0, audio_end_ms=played_ms)

"""``PageEventsProcessor``: what the page shows, sent as small JSON messages while the conversation goes.

It sits after the realtime service (before the output transport) and passes every frame on. Messages:

- ``{"type": "user.speaking", "speaking": true|false}``: the user's turn began or ended.
- ``{"type": "user.transcript", "delta": ..., "final": false}`` while the user speaks (pieces to append),
  then ``{"type": "user.transcript", "text": ..., "final": true}``: what the user said.
- ``{"type": "bot.transcript", "delta": ...}`` and ``{"type": "bot.done"}``: the answer's text as it comes.
- ``{"type": "bot.speaking", "speaking": true|false}``: the bot's audio started or stopped playing.
- ``{"type": "error", "message": ...}``: something the visitor should know.

``{"type": "turn.latency", ...}`` comes from a :class:`UserBotLatencyObserver` (see ``bot.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from voxpipe.frames.control import ErrorFrame
from voxpipe.frames.llm import LLMFullResponseEndFrame
from voxpipe.frames.speech import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from voxpipe.frames.text import InterimTranscriptionFrame, LLMTextFrame, TranscriptionFrame
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor, frame_handler

__all__ = ["PageEventsProcessor", "SendMessage"]

SendMessage = Callable[[dict[str, Any]], Any]
"""Sends one JSON object to the page (a data channel or a WebSocket); its result is ignored."""

_DOWN = FrameDirection.DOWNSTREAM


class PageEventsProcessor(FrameProcessor):
    """Tells the page what happens (see the module docstring).

    Args:
        send: sends one message to the page.
    """

    def __init__(self, send: SendMessage, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._send = send

    @frame_handler(UserStartedSpeakingFrame, UserStoppedSpeakingFrame)
    async def _on_user_speaking(self, frame: Any, direction: FrameDirection) -> None:
        if direction is _DOWN:
            self._send({"type": "user.speaking", "speaking": isinstance(frame, UserStartedSpeakingFrame)})
        await self.push_frame(frame, direction)

    @frame_handler(BotStartedSpeakingFrame, BotStoppedSpeakingFrame)
    async def _on_bot_speaking(self, frame: Any, direction: FrameDirection) -> None:
        # the output transport (after this processor) announces the bot's speaking upstream to here
        if direction is FrameDirection.UPSTREAM:
            self._send({"type": "bot.speaking", "speaking": isinstance(frame, BotStartedSpeakingFrame)})
        await self.push_frame(frame, direction)

    @frame_handler(InterimTranscriptionFrame)
    async def _on_interim(self, frame: InterimTranscriptionFrame, direction: FrameDirection) -> None:
        self._send({"type": "user.transcript", "delta": frame.text, "final": False})
        await self.push_frame(frame, direction)

    @frame_handler(TranscriptionFrame)
    async def _on_transcript(self, frame: TranscriptionFrame, direction: FrameDirection) -> None:
        self._send({"type": "user.transcript", "text": frame.text, "final": True})
        await self.push_frame(frame, direction)

    @frame_handler(LLMTextFrame)
    async def _on_bot_text(self, frame: LLMTextFrame, direction: FrameDirection) -> None:
        self._send({"type": "bot.transcript", "delta": frame.text})
        await self.push_frame(frame, direction)

    @frame_handler(LLMFullResponseEndFrame)
    async def _on_answer_end(self, frame: LLMFullResponseEndFrame, direction: FrameDirection) -> None:
        self._send({"type": "bot.done"})
        await self.push_frame(frame, direction)

    @frame_handler(ErrorFrame)
    async def _on_error(self, frame: ErrorFrame, direction: FrameDirection) -> None:
        self._send({"type": "error", "message": frame.error, "fatal": frame.fatal})
        await self.push_frame(frame, direction)

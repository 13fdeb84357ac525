"""A transcript of the conversation, both sides, one message per turn, with timestamps.

Put ``transcript.user()`` after the service (it turns each ``TranscriptionFrame`` into a user message) and
``transcript.assistant()`` after it too, or after the output transport (it gathers the bot's text pieces,
``TTSTextFrame`` or, from a speech-to-speech service, ``LLMTextFrame``, into one message, finished when the
answer ends, the bot stops speaking, or the user interrupts). Each new message fires
``on_transcript_update(processor, frame)`` with a :class:`TranscriptionUpdateFrame`, which is also pushed
downstream::

    transcript = TranscriptProcessor()
    pipeline = Pipeline(
        [transport.input(), llm, transcript.user(), transcript.assistant(), transport.output()]
    )

    @transcript.event_handler("on_transcript_update")
    async def on_update(processor, frame):
        for message in frame.messages:
            print(f"{message.timestamp} {message.role}: {message.content}")
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, TypeVar

from voxpipe.frames.base import Frame
from voxpipe.frames.control import CancelFrame, EndFrame
from voxpipe.frames.llm import LLMFullResponseEndFrame
from voxpipe.frames.speech import BotStoppedSpeakingFrame, StartInterruptionFrame
from voxpipe.frames.text import (
    LLMTextFrame,
    TranscriptionFrame,
    TranscriptionMessage,
    TranscriptionUpdateFrame,
    TTSTextFrame,
)
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor, frame_handler

__all__ = [
    "AssistantTranscriptProcessor",
    "BaseTranscriptProcessor",
    "TranscriptProcessor",
    "UserTranscriptProcessor",
]

_H = TypeVar("_H", bound=Callable[..., Any])


def now_iso8601() -> str:
    """The current UTC time as ISO 8601 with milliseconds (the timestamp of transcript messages)."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


class BaseTranscriptProcessor(FrameProcessor):
    """Keeps the messages emitted so far and announces new ones (``on_transcript_update``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.messages: list[TranscriptionMessage] = []
        self._register_event_handler("on_transcript_update")

    async def _emit(self, message: TranscriptionMessage) -> None:
        self.messages.append(message)
        update = TranscriptionUpdateFrame(messages=[message])
        await self._call_event_handler("on_transcript_update", update)
        await self.push_frame(update)


class UserTranscriptProcessor(BaseTranscriptProcessor):
    """Turns each final ``TranscriptionFrame`` into a user message."""

    @frame_handler(TranscriptionFrame)
    async def _on_transcription(self, frame: TranscriptionFrame, direction: FrameDirection) -> None:
        await self.push_frame(frame, direction)
        if frame.text.strip():
            message = TranscriptionMessage(
                role="user",
                content=frame.text.strip(),
                timestamp=frame.timestamp or now_iso8601(),
                user_id=frame.user_id or None,
            )
            await self._emit(message)


class AssistantTranscriptProcessor(BaseTranscriptProcessor):
    """Gathers the bot's text of one answer into one assistant message.

    Spoken text (``TTSTextFrame``) is preferred; a service that only sends ``LLMTextFrame`` (a
    speech-to-speech model's transcript of its answer) is transcribed from those.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._spoken: list[str] = []
        self._generated: list[str] = []
        self._started_at: str | None = None

    @frame_handler(TTSTextFrame, LLMTextFrame)
    async def _on_text(self, frame: LLMTextFrame | TTSTextFrame, direction: FrameDirection) -> None:
        if self._started_at is None:
            self._started_at = now_iso8601()
        (self._spoken if isinstance(frame, TTSTextFrame) else self._generated).append(frame.text)
        await self.push_frame(frame, direction)

    @frame_handler(
        LLMFullResponseEndFrame, BotStoppedSpeakingFrame, StartInterruptionFrame, EndFrame, CancelFrame
    )
    async def _on_answer_end(self, frame: Frame, direction: FrameDirection) -> None:
        await self.push_frame(frame, direction)
        await self._flush()

    async def _flush(self) -> None:
        parts = self._spoken or self._generated
        content = "".join(parts).strip()
        started_at = self._started_at
        self._spoken, self._generated, self._started_at = [], [], None
        if content:
            await self._emit(TranscriptionMessage(role="assistant", content=content, timestamp=started_at))


class TranscriptProcessor:
    """Makes the user and assistant transcript processors (once each) and shares event handlers."""

    def __init__(self) -> None:
        self._user: UserTranscriptProcessor | None = None
        self._assistant: AssistantTranscriptProcessor | None = None
        self._handlers: list[tuple[str, Callable[..., Any]]] = []

    def user(self, **kwargs: Any) -> UserTranscriptProcessor:
        """The processor for the user's side (made once)."""
        if self._user is None:
            self._user = UserTranscriptProcessor(**kwargs)
            self._attach(self._user)
        return self._user

    def assistant(self, **kwargs: Any) -> AssistantTranscriptProcessor:
        """The processor for the bot's side (made once)."""
        if self._assistant is None:
            self._assistant = AssistantTranscriptProcessor(**kwargs)
            self._attach(self._assistant)
        return self._assistant

    @property
    def messages(self) -> list[TranscriptionMessage]:
        """Both sides' messages so far, in time order."""
        sides = [p.messages for p in (self._user, self._assistant) if p is not None]
        return sorted((m for side in sides for m in side), key=lambda m: m.timestamp or "")

    def _attach(self, processor: BaseTranscriptProcessor) -> None:
        for name, handler in self._handlers:
            processor.add_event_handler(name, handler)

    def add_event_handler(self, event_name: str, handler: Callable[..., Any]) -> None:
        """Call ``handler(processor, frame)`` on the named event of both processors."""
        self._handlers.append((event_name, handler))
        for processor in (self._user, self._assistant):
            if processor is not None:
                processor.add_event_handler(event_name, handler)

    def event_handler(self, event_name: str) -> Callable[[_H], _H]:
        """Decorator form of :meth:`add_event_handler`."""

        def decorator(handler: _H) -> _H:
            self.add_event_handler(event_name, handler)
            return handler

        return decorator

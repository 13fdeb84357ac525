"""Context aggregators: they keep an :class:`LLMContext` true to the conversation as frames go by.

A pipeline puts the user aggregator before the language-model service and the assistant aggregator after
the output transport::

    Pipeline([transport.input(), aggregators.user(), llm, transport.output(), aggregators.assistant()])

- :class:`LLMUserContextAggregator` turns the final transcripts of one user turn into one user message.
- :class:`LLMAssistantContextAggregator` turns the text of one model response into one assistant message
  (only what was said, when the user interrupts), and records function calls and their results.

Both pass every frame on, unchanged. Both apply :class:`LLMMessagesAppendFrame`,
:class:`LLMMessagesUpdateFrame` and :class:`LLMSetToolsFrame` to the context; a pair sharing one context
appends the messages of a frame once, whichever of the two sees it first.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any

from voxpipe.frames.base import ControlFrame, Frame, UninterruptibleFrame
from voxpipe.frames.llm import (
    FunctionCallCancelFrame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMMessagesAppendFrame,
)
from voxpipe.frames.speech import StartInterruptionFrame, UserStartedSpeakingFrame, UserStoppedSpeakingFrame
from voxpipe.frames.text import InterimTranscriptionFrame, TextFrame, TranscriptionFrame, TTSTextFrame
from voxpipe.processors.aggregators._context_aggregator import LLMContextAggregator
from voxpipe.processors.aggregators.llm_context import FUNCTION_CALL_CANCELLED, LLMContext
from voxpipe.processors.frame_processor import FrameDirection, frame_handler

__all__ = [
    "LLMAssistantAggregatorParams",
    "LLMAssistantContextAggregator",
    "LLMContextAggregator",
    "LLMContextAggregatorPair",
    "LLMUserAggregatorParams",
    "LLMUserContextAggregator",
    "UserTurnState",
]

logger = logging.getLogger(__name__)


class UserTurnState(enum.Enum):
    """Where the user aggregator is in a user turn."""

    IDLE = "idle"
    """No turn open: a transcript is a turn of its own."""
    SPEAKING = "speaking"
    """The user speaks: transcripts are collected."""
    CLOSING = "closing"
    """The user stopped; transcripts queued before the stop are still collected, then the turn ends."""


@dataclass(slots=True, kw_only=True)
class _UserTurnEnd(ControlFrame, UninterruptibleFrame):
    """Queued in the user aggregator's own lane when the user stops speaking, behind the transcripts
    that arrived before the stop (a system frame overtakes them): the turn ends when it is reached.
    Never pushed on."""


@dataclass(kw_only=True)
class LLMUserAggregatorParams:
    """How the user aggregator behaves.

    Attributes:
        push_context_frame: push an :class:`LLMContextFrame` when a user turn completes (and after an
            ``LLMMessagesAppendFrame`` with ``run_llm``), as services that answer context frames need. A
            realtime service answers the audio itself and leaves this off.
        context_frame_direction: where that frame goes (towards the service: downstream).
    """

    push_context_frame: bool = False
    context_frame_direction: FrameDirection = FrameDirection.DOWNSTREAM


@dataclass(kw_only=True)
class LLMAssistantAggregatorParams:
    """How the assistant aggregator behaves.

    Attributes:
        expect_stripped_words: text frames are words without their spaces (some TTS services), so they
            are joined with spaces; off by default because model and realtime transcripts come as deltas
            that carry their own spacing.
        push_context_frame_on_function_result: push an :class:`LLMContextFrame` upstream after a
            function result whose ``run_llm`` is not False, to ask a context-driven service to answer. A
            realtime service answers the result itself and leaves this off.
    """

    expect_stripped_words: bool = False
    push_context_frame_on_function_result: bool = False


class LLMUserContextAggregator(LLMContextAggregator):
    """Collects the final transcripts of a user turn into one user message.

    A turn is bounded by :class:`UserStartedSpeakingFrame` and :class:`UserStoppedSpeakingFrame` when the
    pipeline has them: transcripts arriving while the user speaks are joined, and the message is added
    when the user stops. A transcript arriving while the user is not speaking (no VAD in the pipeline,
    or a realtime server's transcript that comes after the end of speech) is a turn of its own.
    Interim transcripts are ignored. Transcripts count in either direction: a speech-to-text processor
    sends them downstream, a realtime service (after this aggregator) sends them upstream.

    Args:
        context: the context to add user messages to.
        params: see :class:`LLMUserAggregatorParams`.
        name: a readable name for logs.
    """

    def __init__(
        self,
        context: LLMContext,
        *,
        params: LLMUserAggregatorParams | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(context, name=name)
        self._params = params or LLMUserAggregatorParams()
        self._turn = UserTurnState.IDLE
        self._parts: list[str] = []

    @property
    def params(self) -> LLMUserAggregatorParams:
        """The aggregator's settings."""
        return self._params

    @property
    def turn_state(self) -> UserTurnState:
        """Where the aggregator is in a user turn."""
        return self._turn

    def _set_turn(self, new: UserTurnState) -> None:
        if new is not self._turn and logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: user turn %s -> %s", self, self._turn.value, new.value)
        self._turn = new

    def reset(self) -> None:
        """Drop the transcripts of the turn in progress."""
        self._parts.clear()

    async def on_user_turn_completed(self, message: dict[str, Any]) -> None:
        """Called after a user message was added to the context; pushes the context if the params ask.

        Override it to react to each user turn (a subclass that keeps a server in sync, say).
        """
        if self._params.push_context_frame:
            await self.push_context_frame(self._params.context_frame_direction)

    async def _complete_turn(self) -> None:
        text = " ".join(self._parts).strip()
        self._parts.clear()
        if not text:
            return
        message = {"role": "user", "content": text}
        self._context.add_message(message)
        await self.on_user_turn_completed(message)

    @frame_handler(UserStartedSpeakingFrame)
    async def _on_user_started(self, frame: UserStartedSpeakingFrame, direction: FrameDirection) -> None:
        self._set_turn(UserTurnState.SPEAKING)
        await self.push_frame(frame, direction)

    @frame_handler(UserStoppedSpeakingFrame)
    async def _on_user_stopped(self, frame: UserStoppedSpeakingFrame, direction: FrameDirection) -> None:
        await self.push_frame(frame, direction)
        if self._turn is UserTurnState.SPEAKING:
            self._set_turn(UserTurnState.CLOSING)
            await self.queue_frame(_UserTurnEnd())

    @frame_handler(_UserTurnEnd)
    async def _on_turn_end(self, frame: _UserTurnEnd, direction: FrameDirection) -> None:
        if self._turn is UserTurnState.CLOSING:
            self._set_turn(UserTurnState.IDLE)
        await self._complete_turn()

    @frame_handler(TranscriptionFrame)
    async def _on_transcription(self, frame: TranscriptionFrame, direction: FrameDirection) -> None:
        await self.push_frame(frame, direction)
        if not frame.text.strip():
            return
        self._parts.append(frame.text.strip())
        if self._turn is UserTurnState.IDLE:
            await self._complete_turn()

    @frame_handler(LLMMessagesAppendFrame)
    async def _on_messages_append(self, frame: LLMMessagesAppendFrame, direction: FrameDirection) -> None:
        await super()._on_messages_append(frame, direction)
        if frame.run_llm and self._params.push_context_frame:
            await self.push_context_frame(self._params.context_frame_direction)


class LLMAssistantContextAggregator(LLMContextAggregator):
    """Collects the text of one model response into one assistant message, and records function calls.

    Text counts between :class:`LLMFullResponseStartFrame` and :class:`LLMFullResponseEndFrame`. When a
    response carries both model text (:class:`LLMTextFrame`) and spoken text (:class:`TTSTextFrame`), the
    spoken text wins: it is what the user heard. On :class:`StartInterruptionFrame` the text so far is
    committed and the rest of the response ignored. Function calls become an assistant ``tool_calls``
    message with a placeholder ``tool`` message, filled by the result (or marked cancelled).

    Args:
        context: the context to add assistant messages to.
        params: see :class:`LLMAssistantAggregatorParams`.
        name: a readable name for logs.
    """

    def __init__(
        self,
        context: LLMContext,
        *,
        params: LLMAssistantAggregatorParams | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(context, name=name)
        self._params = params or LLMAssistantAggregatorParams()
        self._depth = 0  # nested responses (a start inside a start) end with the outermost end
        self._llm_parts: list[str] = []
        self._spoken_parts: list[str] = []

    @property
    def params(self) -> LLMAssistantAggregatorParams:
        """The aggregator's settings."""
        return self._params

    def reset(self) -> None:
        """Drop the text of the response in progress."""
        self._llm_parts.clear()
        self._spoken_parts.clear()

    async def on_assistant_message(self, message: dict[str, Any]) -> None:
        """Called after an assistant message was added to the context; the default does nothing."""

    def _pending_text(self) -> str:
        if self._spoken_parts:
            separator = " " if self._params.expect_stripped_words else ""
            return separator.join(self._spoken_parts).strip()
        return "".join(self._llm_parts).strip()

    async def _commit(self) -> None:
        text = self._pending_text()
        self.reset()
        if not text:
            return
        message = {"role": "assistant", "content": text}
        self._context.add_message(message)
        await self.on_assistant_message(message)

    @frame_handler(LLMFullResponseStartFrame)
    async def _on_response_start(self, frame: LLMFullResponseStartFrame, direction: FrameDirection) -> None:
        self._depth += 1
        await self.push_frame(frame, direction)

    @frame_handler(LLMFullResponseEndFrame)
    async def _on_response_end(self, frame: LLMFullResponseEndFrame, direction: FrameDirection) -> None:
        if self._depth > 0:
            self._depth -= 1
            if self._depth == 0:
                await self._commit()
        await self.push_frame(frame, direction)

    @frame_handler(TextFrame)
    async def _on_text(self, frame: TextFrame, direction: FrameDirection) -> None:
        if self._depth > 0 and direction is FrameDirection.DOWNSTREAM:
            self._llm_parts.append(frame.text)
        await self.push_frame(frame, direction)

    @frame_handler(TTSTextFrame)
    async def _on_spoken_text(self, frame: TTSTextFrame, direction: FrameDirection) -> None:
        if self._depth > 0 and direction is FrameDirection.DOWNSTREAM:
            self._spoken_parts.append(frame.text)
        await self.push_frame(frame, direction)

    @frame_handler(TranscriptionFrame, InterimTranscriptionFrame)
    async def _on_user_text(self, frame: Frame, direction: FrameDirection) -> None:
        await self.push_frame(frame, direction)  # the user's words are not the assistant's

    @frame_handler(StartInterruptionFrame)
    async def _on_start_interruption(self, frame: StartInterruptionFrame, direction: FrameDirection) -> None:
        if self._depth > 0:
            await self._commit()
        self._depth = 0
        self.reset()
        await self.push_frame(frame, direction)

    @frame_handler(FunctionCallInProgressFrame)
    async def _on_call_in_progress(
        self, frame: FunctionCallInProgressFrame, direction: FrameDirection
    ) -> None:
        # Recorded at once, even inside a response: its text may still be on its way (other processors'
        # queues), and splitting it around the call would garble it. The call then precedes the text of
        # its own response in the history, which every provider accepts.
        self._context.add_function_call(frame.function_name, frame.tool_call_id, frame.arguments)
        await self.push_frame(frame, direction)

    @frame_handler(FunctionCallResultFrame)
    async def _on_call_result(self, frame: FunctionCallResultFrame, direction: FrameDirection) -> None:
        self._context.add_function_call_result(
            frame.tool_call_id, frame.result, function_name=frame.function_name, arguments=frame.arguments
        )
        await self.push_frame(frame, direction)
        if self._params.push_context_frame_on_function_result and frame.run_llm is not False:
            await self.push_context_frame(FrameDirection.UPSTREAM)

    @frame_handler(FunctionCallCancelFrame)
    async def _on_call_cancel(self, frame: FunctionCallCancelFrame, direction: FrameDirection) -> None:
        if self._context.has_function_call(frame.tool_call_id):
            self._context.add_function_call_result(frame.tool_call_id, FUNCTION_CALL_CANCELLED)
        await self.push_frame(frame, direction)


class LLMContextAggregatorPair:
    """The user and assistant aggregators of one context, as ``create_context_aggregator`` returns them.

    ``pair.user()`` goes before the service, ``pair.assistant()`` after the output transport.
    """

    __slots__ = ("_assistant", "_user")

    def __init__(self, user: LLMUserContextAggregator, assistant: LLMAssistantContextAggregator) -> None:
        self._user = user
        self._assistant = assistant

    def user(self) -> LLMUserContextAggregator:
        """The aggregator of the user's side."""
        return self._user

    def assistant(self) -> LLMAssistantContextAggregator:
        """The aggregator of the assistant's side."""
        return self._assistant

    def __iter__(self) -> Any:
        return iter((self._user, self._assistant))

    def __repr__(self) -> str:
        return f"LLMContextAggregatorPair(user={self._user!r}, assistant={self._assistant!r})"

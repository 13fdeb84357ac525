"""``LLMContextAggregator``: what the user and assistant aggregators share.

Both hold the same context and apply the frames that edit it directly (append, replace, set tools); a
pair sharing one context appends the messages of a frame once, whichever of the two sees it first.
"""

from __future__ import annotations

from typing import Any

from voxpipe.frames.llm import (
    LLMContextFrame,
    LLMMessagesAppendFrame,
    LLMMessagesUpdateFrame,
    LLMSetToolsFrame,
)
from voxpipe.processors.aggregators.llm_context import LLMContext
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor, frame_handler

__all__ = ["LLMContextAggregator"]

_APPLIED_KEY = "voxpipe.applied_to_contexts"
"""Frame metadata: ids of the contexts an ``LLMMessagesAppendFrame`` was already appended to."""


class LLMContextAggregator(FrameProcessor):
    """What both aggregators share: the context, and the frames that edit it directly.

    Args:
        context: the context to keep up to date (shared by the user and assistant aggregators).
        name: a readable name for logs.
    """

    def __init__(self, context: LLMContext, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._context = context

    @property
    def context(self) -> LLMContext:
        """The context this aggregator updates."""
        return self._context

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The context's messages (a live list)."""
        return self._context.messages

    def get_context_frame(self) -> LLMContextFrame:
        """A frame carrying the context, to ask a service to answer."""
        return LLMContextFrame(context=self._context)

    async def push_context_frame(self, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> None:
        """Push the context (towards the service: downstream from the user side, upstream from the
        assistant side)."""
        await self.push_frame(self.get_context_frame(), direction)

    def reset(self) -> None:
        """Forget any partial aggregation (the context itself is kept)."""

    @frame_handler(LLMMessagesAppendFrame)
    async def _on_messages_append(self, frame: LLMMessagesAppendFrame, direction: FrameDirection) -> None:
        applied: list[int] = frame.metadata.setdefault(_APPLIED_KEY, [])
        if id(self._context) not in applied:
            applied.append(id(self._context))
            self._context.add_messages(frame.messages)
        await self.push_frame(frame, direction)

    @frame_handler(LLMMessagesUpdateFrame)
    async def _on_messages_update(self, frame: LLMMessagesUpdateFrame, direction: FrameDirection) -> None:
        self._context.set_messages(frame.messages)
        await self.push_frame(frame, direction)

    @frame_handler(LLMSetToolsFrame)
    async def _on_set_tools(self, frame: LLMSetToolsFrame, direction: FrameDirection) -> None:
        self._context.set_tools(frame.tools)
        await self.push_frame(frame, direction)

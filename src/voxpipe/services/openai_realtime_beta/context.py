"""``OpenAIRealtimeLLMContext``: the conversation as the realtime service and its aggregators see it.

The server holds the real conversation; this context is the local copy the aggregators keep true to it
(user transcripts, the assistant's spoken answers, function calls and results). The service sends it once,
on the first context frame: ``system`` as the session instructions (unless the session already has some),
``tools`` as the session tools, and every message as its own conversation item.
"""

from __future__ import annotations

from voxpipe.processors.aggregators.llm_context import LLMContext

__all__ = ["OpenAIRealtimeLLMContext"]


class OpenAIRealtimeLLMContext(LLMContext):
    """Messages, tools and system instructions of a realtime conversation.

    ``OpenAIRealtimeLLMContext(messages=[], tools=[], system="You are a helpful assistant")``.
    """

"""pipecat's import path of the context: ``from voxpipe.processors.aggregators.openai_llm_context import
OpenAILLMContext``. The code lives in :mod:`voxpipe.processors.aggregators.llm_context`."""

from voxpipe.frames.llm import OpenAILLMContextFrame
from voxpipe.processors.aggregators.llm_context import LLMContext, OpenAILLMContext

__all__ = ["LLMContext", "OpenAILLMContext", "OpenAILLMContextFrame"]

"""Context aggregators and the conversation context they keep up to date."""

from voxpipe.processors.aggregators.llm_context import LLMContext, OpenAILLMContext
from voxpipe.processors.aggregators.llm_response import (
    LLMAssistantAggregatorParams,
    LLMAssistantContextAggregator,
    LLMContextAggregator,
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
    LLMUserContextAggregator,
)

__all__ = [
    "LLMAssistantAggregatorParams",
    "LLMAssistantContextAggregator",
    "LLMContext",
    "LLMContextAggregator",
    "LLMContextAggregatorPair",
    "LLMUserAggregatorParams",
    "LLMUserContextAggregator",
    "OpenAILLMContext",
]

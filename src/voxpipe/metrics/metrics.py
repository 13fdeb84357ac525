"""Measurement records carried by ``MetricsFrame``.

Times are in seconds (floats), as measured by ``time.perf_counter``; token counts are integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "FunctionCallMetricsData",
    "LLMTokenUsage",
    "LLMUsageMetricsData",
    "MetricsData",
    "ProcessingMetricsData",
    "TTFBMetricsData",
    "TTSUsageMetricsData",
]


@dataclass(slots=True, kw_only=True)
class MetricsData:
    """Base of every measurement.

    Attributes:
        processor: name of the processor that measured it.
        model: the model involved, when there is one.
    """

    processor: str
    model: str | None = None


@dataclass(slots=True, kw_only=True)
class TTFBMetricsData(MetricsData):
    """Time to first byte: from the request (for a voice turn: the end of the user's speech) to the first
    output (the first audio or text of the answer), in seconds."""

    value: float


@dataclass(slots=True, kw_only=True)
class ProcessingMetricsData(MetricsData):
    """Time spent producing a whole response, in seconds."""

    value: float


@dataclass(slots=True, kw_only=True)
class LLMTokenUsage:
    """Token usage of one model response.

    The detail fields are zero when the provider does not report them.
    """

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cache_read_input_tokens: int = 0
    prompt_audio_tokens: int = 0
    prompt_text_tokens: int = 0
    completion_audio_tokens: int = 0
    completion_text_tokens: int = 0


@dataclass(slots=True, kw_only=True)
class LLMUsageMetricsData(MetricsData):
    """Tokens used by one response."""

    value: LLMTokenUsage


@dataclass(slots=True, kw_only=True)
class TTSUsageMetricsData(MetricsData):
    """Characters synthesised by one TTS request."""

    value: int


@dataclass(slots=True, kw_only=True)
class FunctionCallMetricsData(MetricsData):
    """Time a function call took, from dispatch to result, in seconds."""

    function_name: str
    tool_call_id: str
    value: float
    error: str | None = field(default=None)

"""Metrics data types and the helper processors use to measure themselves."""

from voxpipe.metrics.metrics import (
    FunctionCallMetricsData,
    LLMTokenUsage,
    LLMUsageMetricsData,
    MetricsData,
    ProcessingMetricsData,
    TTFBMetricsData,
    TTSUsageMetricsData,
)

__all__ = [
    "FunctionCallMetricsData",
    "LLMTokenUsage",
    "LLMUsageMetricsData",
    "MetricsData",
    "ProcessingMetricsData",
    "TTFBMetricsData",
    "TTSUsageMetricsData",
]

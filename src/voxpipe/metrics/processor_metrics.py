"""Timers a processor uses to measure its time to first byte and its processing time."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from voxpipe.frames.metrics import MetricsFrame
from voxpipe.metrics.metrics import LLMTokenUsage, LLMUsageMetricsData, ProcessingMetricsData, TTFBMetricsData

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.processors.frame_processor import FrameProcessor

__all__ = ["FrameProcessorMetrics"]


class FrameProcessorMetrics:
    """Start/stop timers that turn into :class:`MetricsFrame`\\ s.

    A stop without a matching start returns None: a service may stop TTFB on every audio chunk and only
    the first one after a start counts.
    """

    __slots__ = ("_processing_start", "_processor", "_ttfb_reported", "_ttfb_start", "model")

    def __init__(self, processor: FrameProcessor) -> None:
        self._processor = processor
        self._ttfb_start: float | None = None
        self._processing_start: float | None = None
        self._ttfb_reported = False
        self.model: str | None = None

    def start_ttfb(self, at: float | None = None) -> None:
        """Start the TTFB timer (at ``at``, a ``perf_counter`` reading, or now)."""
        self._ttfb_start = time.perf_counter() if at is None else at

    def stop_ttfb(self, *, only_initial: bool = False) -> MetricsFrame | None:
        """Stop the TTFB timer; the measurement, or None when no timer ran (or only the first counts)."""
        if self._ttfb_start is None:
            return None
        value = time.perf_counter() - self._ttfb_start
        self._ttfb_start = None
        if only_initial and self._ttfb_reported:
            return None
        self._ttfb_reported = True
        data = TTFBMetricsData(processor=self._processor.name, model=self.model, value=value)
        return MetricsFrame(data=[data])

    def start_processing(self) -> None:
        """Start the processing timer."""
        self._processing_start = time.perf_counter()

    def stop_processing(self) -> MetricsFrame | None:
        """Stop the processing timer; the measurement, or None when no timer ran."""
        if self._processing_start is None:
            return None
        value = time.perf_counter() - self._processing_start
        self._processing_start = None
        data = ProcessingMetricsData(processor=self._processor.name, model=self.model, value=value)
        return MetricsFrame(data=[data])

    def usage(self, tokens: LLMTokenUsage) -> MetricsFrame:
        """A frame reporting the token usage of one response."""
        return MetricsFrame(
            data=[LLMUsageMetricsData(processor=self._processor.name, model=self.model, value=tokens)]
        )

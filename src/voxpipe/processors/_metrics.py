r"""The metrics side of a processor: TTFB and processing-time timers that become ``MetricsFrame``\ s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from voxpipe.frames.base import Frame
from voxpipe.metrics.processor_metrics import FrameProcessorMetrics

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.processors.types import FrameDirection

__all__ = ["ProcessorMetricsMixin"]


class ProcessorMetricsMixin:
    """Timers for a processor's own measurements; they report only when the StartFrame enabled metrics."""

    _enable_metrics: bool
    _report_only_initial_ttfb: bool
    _metrics: FrameProcessorMetrics

    if TYPE_CHECKING:  # provided by FrameProcessor

        async def push_frame(self, frame: Frame, direction: FrameDirection = ...) -> None: ...

    def can_generate_metrics(self) -> bool:
        """Whether this processor measures itself; services override it to return True."""
        return False

    async def start_ttfb_metrics(self) -> None:
        """Start timing the time to first byte (when metrics are enabled)."""
        if self._enable_metrics and self.can_generate_metrics():
            self._metrics.start_ttfb()

    async def stop_ttfb_metrics(self) -> None:
        """Stop timing TTFB and push the measurement, if one was started."""
        if self._enable_metrics and self.can_generate_metrics():
            frame = self._metrics.stop_ttfb(only_initial=self._report_only_initial_ttfb)
            if frame is not None:
                await self.push_frame(frame)

    async def start_processing_metrics(self) -> None:
        """Start timing the processing of a response."""
        if self._enable_metrics and self.can_generate_metrics():
            self._metrics.start_processing()

    async def stop_processing_metrics(self) -> None:
        """Stop timing the processing of a response and push the measurement."""
        if self._enable_metrics and self.can_generate_metrics():
            frame = self._metrics.stop_processing()
            if frame is not None:
                await self.push_frame(frame)

    def set_metrics_model(self, model: str | None) -> None:
        """Name the model that metrics of this processor refer to."""
        self._metrics.model = model

"""The frame that carries metrics measurements."""

from __future__ import annotations

from dataclasses import dataclass

from voxpipe.frames.base import SystemFrame
from voxpipe.metrics.metrics import MetricsData

__all__ = ["MetricsFrame"]


@dataclass(slots=True, kw_only=True)
class MetricsFrame(SystemFrame):
    """One or more measurements (TTFB, processing time, token usage, function-call time)."""

    data: list[MetricsData]

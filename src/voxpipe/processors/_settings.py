"""What the StartFrame told a processor: audio rates, interruptions, which metrics to report."""

from __future__ import annotations

from voxpipe.frames.control import StartFrame

__all__ = ["StartSettingsMixin"]


class StartSettingsMixin:
    """The run's settings as a processor sees them; all off (and rates 0) until the StartFrame arrives."""

    _allow_interruptions: bool = False
    _enable_metrics: bool = False
    _enable_usage_metrics: bool = False
    _report_only_initial_ttfb: bool = False
    _audio_in_sample_rate: int = 0
    _audio_out_sample_rate: int = 0

    def _apply_start_settings(self, frame: StartFrame) -> None:
        self._allow_interruptions = frame.allow_interruptions
        self._enable_metrics = frame.enable_metrics
        self._enable_usage_metrics = frame.enable_usage_metrics
        self._report_only_initial_ttfb = frame.report_only_initial_ttfb
        self._audio_in_sample_rate = frame.audio_in_sample_rate
        self._audio_out_sample_rate = frame.audio_out_sample_rate

    @property
    def interruptions_allowed(self) -> bool:
        """Whether the StartFrame allowed interruptions."""
        return self._allow_interruptions

    @property
    def metrics_enabled(self) -> bool:
        """Whether the StartFrame enabled TTFB and processing metrics."""
        return self._enable_metrics

    @property
    def usage_metrics_enabled(self) -> bool:
        """Whether the StartFrame enabled usage metrics."""
        return self._enable_usage_metrics

    @property
    def report_only_initial_ttfb(self) -> bool:
        """Whether only the first TTFB of the run is reported."""
        return self._report_only_initial_ttfb

    @property
    def audio_in_sample_rate(self) -> int:
        """Input audio rate from the StartFrame (0 before the start)."""
        return self._audio_in_sample_rate

    @property
    def audio_out_sample_rate(self) -> int:
        """Output audio rate from the StartFrame (0 before the start)."""
        return self._audio_out_sample_rate

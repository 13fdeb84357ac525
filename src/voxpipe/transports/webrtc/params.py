"""Settings of the WebRTC transport."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from voxpipe.errors import VoxpipeUsageError

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.audio.vad.vad_analyzer import VADAnalyzer

__all__ = ["WebRTCParams"]


@dataclass(kw_only=True)
class WebRTCParams:
    """How the WebRTC transport takes the browser's audio and plays the bot's.

    Attributes:
        audio_in_sample_rate: rate of the frames pushed into the pipeline; None: the StartFrame's.
        vad_analyzer: a voice-activity analyzer (``SileroVADAnalyzer()``) run on the browser's audio:
            the input then pushes ``UserStartedSpeakingFrame``/``UserStoppedSpeakingFrame`` and
            interruptions. None: turns come from elsewhere (the realtime server's turn detection).
        playout_lead_ms: how far ahead of the RTP clock the bot's audio is queued on the track (a late
            timer then leaves no gap); also the most that still plays after an interruption.
        max_buffer_ms: most bot audio buffered before the output stops taking more.
        end_on_disconnect: when the browser leaves, ask the task to end the run.
    """

    audio_in_sample_rate: int | None = None
    vad_analyzer: VADAnalyzer | None = None
    playout_lead_ms: int = 60
    max_buffer_ms: int = 3000
    end_on_disconnect: bool = True

    def __post_init__(self) -> None:
        if self.playout_lead_ms < 0:
            raise VoxpipeUsageError(f"playout_lead_ms must be 0 or more, got {self.playout_lead_ms}")

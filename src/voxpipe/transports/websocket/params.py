"""Settings shared by the WebSocket server and client transports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from voxpipe.errors import VoxpipeUsageError

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.audio.vad.vad_analyzer import VADAnalyzer
    from voxpipe.serializers.base import FrameSerializer

__all__ = ["WebsocketParams"]


@dataclass(kw_only=True)
class WebsocketParams:
    """How a WebSocket transport talks to its peer and plays the bot's audio.

    Attributes:
        serializer: the wire format (``TwilioFrameSerializer``, ``RawPCMSerializer``, or your own
            ``FrameSerializer``). One serializer serves one peer at a time; it is reset for each new one.
        audio_out_sample_rate: rate of the output playout. None: the serializer's
            ``output_sample_rate`` (so each paced chunk is exactly one message), else the StartFrame's.
        audio_out_chunk_ms: duration of each paced output chunk (a multiple of 10 ms); 20 ms is what
            telephone lines use.
        playout_lead_ms: how far ahead of the listener's playback audio is sent, so that a late timer or
            a network hiccup does not leave the peer's buffer empty (a gap in the bot's voice). Also how
            much can still be playing at the peer when an interruption clears it. 0 sends each chunk
            just as the previous one ends.
        max_buffer_ms: most audio the playout buffer holds; when it is full the output transport stops
            taking audio frames until playback makes room, so audio never piles up unbounded here or in
            the socket.
        stop_grace_ms: how long the buffer may run dry before the bot counts as stopped, when no
            ``TTSStoppedFrame`` said so.
        speaking_interval_ms: how often a ``BotSpeakingFrame`` is sent upstream while audio plays.
        end_on_disconnect: when the peer goes away, ask the task to end the run (an ``EndTaskFrame``).
            False keeps the run going: a server transport then waits for the next client.
        max_message_bytes: the largest message accepted from the peer; bigger ones close the connection
            (code 1009), as the WebSocket library does.
        close_timeout_s: how long closing waits for the peer's closing handshake.
        connect_timeout_s: how long the client transport waits to connect.
        vad_analyzer: a voice-activity analyzer (``SileroVADAnalyzer()``) run on the peer's audio: the
            input transport then pushes ``UserStartedSpeakingFrame``/``UserStoppedSpeakingFrame`` and
            interruptions.

    Raises:
        VoxpipeUsageError: a duration is not positive, or the chunk is not a multiple of 10 ms.
    """

    serializer: FrameSerializer
    audio_out_sample_rate: int | None = None
    audio_out_chunk_ms: int = 20
    playout_lead_ms: int = 40
    max_buffer_ms: int = 3000
    stop_grace_ms: int = 500
    speaking_interval_ms: int = 200
    end_on_disconnect: bool = True
    max_message_bytes: int = 1 << 20
    close_timeout_s: float = 2.0
    connect_timeout_s: float = 10.0
    vad_analyzer: VADAnalyzer | None = None

    def __post_init__(self) -> None:
        if self.audio_out_chunk_ms <= 0 or self.audio_out_chunk_ms % 10:
            raise VoxpipeUsageError(
                f"audio_out_chunk_ms must be a positive multiple of 10, got {self.audio_out_chunk_ms}"
            )
        if self.max_buffer_ms < self.audio_out_chunk_ms:
            raise VoxpipeUsageError(
                f"max_buffer_ms ({self.max_buffer_ms}) must hold at least one chunk "
                f"({self.audio_out_chunk_ms} ms)"
            )
        if self.playout_lead_ms < 0:
            raise VoxpipeUsageError(f"playout_lead_ms must be 0 or more, got {self.playout_lead_ms}")
        for name in ("close_timeout_s", "connect_timeout_s"):
            if getattr(self, name) <= 0:
                raise VoxpipeUsageError(f"{name} must be positive, got {getattr(self, name)!r}")

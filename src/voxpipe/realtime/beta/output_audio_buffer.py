"""``output_audio_buffer.*`` events: WebRTC and SIP transports only (beta; GA same shapes)."""

from typing import Literal

from voxpipe.realtime._base import ClientEventBase, ServerEventBase

__all__ = [
    "OutputAudioBufferClearEvent",
    "OutputAudioBufferClearedEvent",
    "OutputAudioBufferStartedEvent",
    "OutputAudioBufferStoppedEvent",
]


class OutputAudioBufferClearEvent(ClientEventBase):
    """``output_audio_buffer.clear``: cut the audio being played (send after ``response.cancel``)."""

    type: Literal["output_audio_buffer.clear"] = "output_audio_buffer.clear"


class OutputAudioBufferStartedEvent(ServerEventBase):
    """``output_audio_buffer.started``: the server began playing a response's audio."""

    type: Literal["output_audio_buffer.started"] = "output_audio_buffer.started"
    response_id: str
    """The response whose audio started."""


class OutputAudioBufferStoppedEvent(ServerEventBase):
    """``output_audio_buffer.stopped``: the response's audio was played to the end."""

    type: Literal["output_audio_buffer.stopped"] = "output_audio_buffer.stopped"
    response_id: str
    """The response whose audio drained."""


class OutputAudioBufferClearedEvent(ServerEventBase):
    """``output_audio_buffer.cleared``: playback was cut (client clear or interruption)."""

    type: Literal["output_audio_buffer.cleared"] = "output_audio_buffer.cleared"
    response_id: str
    """The response whose audio was cut."""

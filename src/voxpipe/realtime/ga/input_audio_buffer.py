"""GA-only ``input_audio_buffer.*`` server events (the others are the beta classes)."""

from typing import Literal

from voxpipe.realtime._base import ServerEventBase

__all__ = ["InputAudioBufferDtmfEventReceivedEvent", "InputAudioBufferTimeoutTriggeredEvent"]


class InputAudioBufferTimeoutTriggeredEvent(ServerEventBase):
    """``input_audio_buffer.timeout_triggered``: the VAD's ``idle_timeout_ms`` ran out."""

    type: Literal["input_audio_buffer.timeout_triggered"] = "input_audio_buffer.timeout_triggered"
    audio_start_ms: int
    """Start of the idle audio committed as an item."""
    audio_end_ms: int
    """End of that audio."""
    item_id: str
    """The item created for it."""


class InputAudioBufferDtmfEventReceivedEvent(ServerEventBase):
    """``input_audio_buffer.dtmf_event_received``: a DTMF key on a SIP call (not in openai 2.8)."""

    type: Literal["input_audio_buffer.dtmf_event_received"] = "input_audio_buffer.dtmf_event_received"
    event: str
    """The key, e.g. ``"5"``."""
    received_at: int
    """Unix time (seconds) it was received."""

"""``input_audio_buffer.*`` events (beta; GA uses the same shapes)."""

from typing import Literal

from voxpipe.realtime._base import ClientEventBase, ServerEventBase

__all__ = [
    "InputAudioBufferAppendEvent",
    "InputAudioBufferClearEvent",
    "InputAudioBufferClearedEvent",
    "InputAudioBufferCommitEvent",
    "InputAudioBufferCommittedEvent",
    "InputAudioBufferSpeechStartedEvent",
    "InputAudioBufferSpeechStoppedEvent",
]


class InputAudioBufferAppendEvent(ClientEventBase):
    """``input_audio_buffer.append``: add audio to the input buffer (no acknowledgement)."""

    type: Literal["input_audio_buffer.append"] = "input_audio_buffer.append"
    audio: str
    """Base64 audio in the session's input format; at most 15 MiB per event."""


class InputAudioBufferCommitEvent(ClientEventBase):
    """``input_audio_buffer.commit``: turn the buffer into a user item (at least 100 ms of audio).

    Does not start a response; send ``response.create`` for that when turn detection is off.
    """

    type: Literal["input_audio_buffer.commit"] = "input_audio_buffer.commit"


class InputAudioBufferClearEvent(ClientEventBase):
    """``input_audio_buffer.clear``: drop the buffered audio."""

    type: Literal["input_audio_buffer.clear"] = "input_audio_buffer.clear"


class InputAudioBufferCommittedEvent(ServerEventBase):
    """``input_audio_buffer.committed``: the buffer was committed, by the client or by the VAD."""

    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    item_id: str
    """Id of the user item about to be created."""
    previous_item_id: str | None = None
    """Item after which the new item goes; ``None`` when it is the first."""


class InputAudioBufferClearedEvent(ServerEventBase):
    """``input_audio_buffer.cleared``: answer to ``input_audio_buffer.clear``."""

    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class InputAudioBufferSpeechStartedEvent(ServerEventBase):
    """``input_audio_buffer.speech_started``: the VAD heard speech start (interrupts playback)."""

    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    audio_start_ms: int
    """Position in the session's input audio where speech starts (includes prefix padding)."""
    item_id: str
    """Id of the user item that will hold this speech."""


class InputAudioBufferSpeechStoppedEvent(ServerEventBase):
    """``input_audio_buffer.speech_stopped``: the VAD heard speech end."""

    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    audio_end_ms: int
    """Position in the session's input audio where speech stopped."""
    item_id: str
    """Id of the user item that will hold this speech."""

"""Raw audio frames, and the frames that frame the bot's speech.

Audio is always signed 16-bit little-endian PCM, interleaved when there is more than one channel. Every
audio frame checks its data when it is built, so a wrong rate or a torn sample fails where it was made,
not three processors later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voxpipe.errors import FrameValidationError
from voxpipe.frames.base import ControlFrame, DataFrame, SystemFrame

__all__ = [
    "SAMPLE_WIDTH",
    "InputAudioRawFrame",
    "OutputAudioRawFrame",
    "PlaybackPositionFrame",
    "TTSAudioRawFrame",
    "TTSStartedFrame",
    "TTSStoppedFrame",
    "validate_audio",
]

SAMPLE_WIDTH = 2
"""Bytes per sample: audio frames carry 16-bit PCM."""


def validate_audio(frame_name: str, audio: bytes, sample_rate: int, num_channels: int) -> None:
    """Check that raw PCM16 audio fits its declared format.

    Raises:
        FrameValidationError: the rate or channel count is not positive, the data is not bytes, or its
            length is not a whole number of samples for every channel.
    """
    if not isinstance(audio, bytes | bytearray | memoryview):
        raise FrameValidationError(f"{frame_name}: audio must be bytes, got {type(audio).__name__}")
    if not isinstance(sample_rate, int) or sample_rate <= 0:
        raise FrameValidationError(f"{frame_name}: sample_rate must be a positive int, got {sample_rate!r}")
    if not isinstance(num_channels, int) or num_channels <= 0:
        raise FrameValidationError(f"{frame_name}: num_channels must be a positive int, got {num_channels!r}")
    block = SAMPLE_WIDTH * num_channels
    if len(audio) % block:
        raise FrameValidationError(
            f"{frame_name}: {len(audio)} bytes is not a whole number of {num_channels}-channel 16-bit "
            f"samples (a multiple of {block} bytes); was the audio cut mid-sample?"
        )


class _RawAudio:
    """What every raw audio frame knows about its samples (a mixin: methods only, no fields)."""

    __slots__ = ()
    audio: bytes
    sample_rate: int
    num_channels: int

    def __post_init__(self) -> None:
        validate_audio(type(self).__name__, self.audio, self.sample_rate, self.num_channels)

    @property
    def num_frames(self) -> int:
        """Samples per channel."""
        return len(self.audio) // (SAMPLE_WIDTH * self.num_channels)

    @property
    def duration_ms(self) -> float:
        """How long the audio plays, in milliseconds."""
        return 1000.0 * self.num_frames / self.sample_rate


@dataclass(slots=True, kw_only=True)
class InputAudioRawFrame(SystemFrame, _RawAudio):
    """Audio captured from the user (microphone, phone line, file), handled at once by every processor.

    Attributes:
        audio: PCM16 samples, interleaved by channel.
        sample_rate: samples per second per channel.
        num_channels: number of interleaved channels.
    """

    audio: bytes = field(repr=False)
    sample_rate: int
    num_channels: int = 1


@dataclass(slots=True, kw_only=True)
class OutputAudioRawFrame(DataFrame, _RawAudio):
    """Audio for the output transport to play, in order.

    Attributes:
        audio: PCM16 samples, interleaved by channel.
        sample_rate: samples per second per channel.
        num_channels: number of interleaved channels.
    """

    audio: bytes = field(repr=False)
    sample_rate: int
    num_channels: int = 1


@dataclass(slots=True, kw_only=True)
class TTSAudioRawFrame(OutputAudioRawFrame):
    """Synthesised speech of the bot (from a TTS or a speech-to-speech model)."""


@dataclass(slots=True, kw_only=True)
class TTSStartedFrame(ControlFrame):
    """The bot's speech for one response begins; audio frames follow."""


@dataclass(slots=True, kw_only=True)
class TTSStoppedFrame(ControlFrame):
    """The bot's speech for one response has ended (all of its audio was pushed)."""


@dataclass(slots=True, kw_only=True)
class PlaybackPositionFrame(SystemFrame):
    """Sent upstream by an output transport: how much of the current response's audio was really played.

    A speech-to-speech service truncates the assistant's item at this position when the user interrupts,
    so that the model's memory of what it said matches what the user heard.

    Attributes:
        position_ms: milliseconds of the current response's audio played so far.
        interrupted: the position was taken because an interruption stopped playback.
    """

    position_ms: int
    interrupted: bool = False

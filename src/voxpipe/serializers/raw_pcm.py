"""``RawPCMSerializer``: binary WebSocket messages of bare PCM16 mono audio at one declared rate.

The simplest format a client can speak: no JSON, no base64, no headers. A browser's ``AudioWorklet`` or a
ten-line Python script sends its microphone as binary messages and plays what comes back. Both sides
agree on the rate out of band (the serializer's ``sample_rate``). Interruptions cannot be signalled in
this format: the transport simply stops sending.
"""

from __future__ import annotations

from voxpipe.audio import StreamResampler
from voxpipe.errors import VoxpipeUsageError
from voxpipe.frames.audio import SAMPLE_WIDTH, InputAudioRawFrame, OutputAudioRawFrame
from voxpipe.frames.base import Frame
from voxpipe.serializers.base import FrameSerializer, MalformedMessageError

__all__ = ["RawPCMSerializer"]


class RawPCMSerializer(FrameSerializer):
    """PCM16 little-endian mono, one binary message per chunk, both ways, at ``sample_rate``.

    Args:
        sample_rate: the rate of the audio on the wire, both directions.

    Raises:
        VoxpipeUsageError: ``sample_rate`` is not a positive int.
    """

    def __init__(self, sample_rate: int = 16000) -> None:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise VoxpipeUsageError(f"sample_rate must be a positive int, got {sample_rate!r}")
        self.sample_rate = sample_rate
        self.output_sample_rate = sample_rate
        self._resamplers: dict[tuple[int, int], StreamResampler] = {}

    def __repr__(self) -> str:
        return f"RawPCMSerializer(sample_rate={self.sample_rate})"

    def reset(self) -> None:
        """Drop the resampler state of the previous connection."""
        self._resamplers.clear()

    def serialize(self, frame: Frame) -> bytes | None:
        """Output audio, resampled to ``sample_rate`` and folded to mono; None for every other frame."""
        if not isinstance(frame, OutputAudioRawFrame):
            return None
        key = (frame.sample_rate, frame.num_channels)
        resampler = self._resamplers.get(key)
        if resampler is None:
            resampler = StreamResampler(
                frame.sample_rate, self.sample_rate, channels=frame.num_channels, out_channels=1
            )
            self._resamplers[key] = resampler
        return resampler.process(frame.audio) or None

    def deserialize(self, data: str | bytes) -> InputAudioRawFrame | None:
        """A binary message as input audio at ``sample_rate``.

        Raises:
            MalformedMessageError: a text message, or a length that is not a whole number of samples.
        """
        if isinstance(data, str):
            raise MalformedMessageError(
                f"raw PCM expects binary messages, got a text message of {len(data)} characters",
                code="unexpected_type",
            )
        if len(data) % SAMPLE_WIDTH:
            raise MalformedMessageError(
                f"binary message of {len(data)} bytes is not whole 16-bit samples", code="bad_audio"
            )
        if not data:
            return None
        return InputAudioRawFrame(audio=bytes(data), sample_rate=self.sample_rate, num_channels=1)

"""Pieces every output transport needs: one playout format for audio of any format, and telling the
pipeline when the bot starts and stops speaking."""

from __future__ import annotations

from voxpipe.audio import StreamResampler
from voxpipe.frames.audio import OutputAudioRawFrame
from voxpipe.frames.speech import BotStartedSpeakingFrame, BotStoppedSpeakingFrame
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor

__all__ = ["PlayoutResampler", "announce_speaking"]


class PlayoutResampler:
    """Brings audio of any rate and channel count to the output's mono playout rate.

    One streaming resampler per incoming format, so each stream stays click-free across frames.

    Args:
        rate: the playout rate.
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._streams: dict[tuple[int, int], StreamResampler] = {}

    def process(self, frame: OutputAudioRawFrame) -> bytes:
        """The frame's audio at the playout rate (the resampler may hold back a few ms for later)."""
        key = (frame.sample_rate, frame.num_channels)
        stream = self._streams.get(key)
        if stream is None:
            stream = StreamResampler(
                frame.sample_rate, self.rate, channels=frame.num_channels, out_channels=1
            )
            self._streams[key] = stream
        return stream.process(frame.audio)

    def flush(self) -> bytes:
        """What the resamplers hold back, now that an answer's audio is complete."""
        return b"".join(stream.flush() for stream in self._streams.values())

    def reset(self) -> None:
        """Forget what the resamplers hold (an interruption drops the rest of the answer)."""
        for stream in self._streams.values():
            stream.reset()


async def announce_speaking(output: FrameProcessor, speaking: bool) -> None:
    """Push ``BotStartedSpeakingFrame`` or ``BotStoppedSpeakingFrame`` both ways and emit the matching
    ``on_bot_started_speaking`` / ``on_bot_stopped_speaking`` event of ``output``."""
    frame_type = BotStartedSpeakingFrame if speaking else BotStoppedSpeakingFrame
    await output.push_frame(frame_type(), FrameDirection.UPSTREAM)
    await output.push_frame(frame_type(), FrameDirection.DOWNSTREAM)
    await output._call_event_handler("on_bot_started_speaking" if speaking else "on_bot_stopped_speaking")

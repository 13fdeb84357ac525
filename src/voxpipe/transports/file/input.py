"""``WavFileInputTransport``: plays a WAV file into a pipeline as if a user were speaking it.

In real-time mode the chunks are paced by the playout package's :class:`ListenerClock`, the clock the
outputs play by: each chunk is pushed when the one before it has "been spoken"; after a stall (a busy
loop) pacing resumes from then, it never catches up in a burst.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voxpipe.audio import StreamResampler, WavAudio, read_wav, silence
from voxpipe.audio.chunking import frames_for_ms
from voxpipe.errors import VoxpipeUsageError
from voxpipe.frames.audio import SAMPLE_WIDTH, InputAudioRawFrame
from voxpipe.frames.base import Frame
from voxpipe.frames.control import EndTaskFrame, StartFrame
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor
from voxpipe.transports._vad_input import UserSpeechDetector
from voxpipe.transports.playout import ListenerClock

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.audio.vad.vad_analyzer import VADAnalyzer

__all__ = ["WavFileInputParams", "WavFileInputTransport"]

logger = logging.getLogger(__name__)


@dataclass(kw_only=True)
class WavFileInputParams:
    """How a WAV file is played into the pipeline.

    Attributes:
        sample_rate: rate of the emitted frames; None uses the StartFrame's ``audio_in_sample_rate``.
        mono: fold several channels into one (voice services take mono).
        chunk_ms: duration of each frame (a multiple of 10 ms).
        realtime: pace frames at the speed of speech; False sends them as fast as the pipeline takes them.
        lead_in_ms: silence before the file.
        silence_tail_ms: silence after the file, so that a voice-activity detector sees the end of speech.
        end_when_done: ask the task to end (an upstream ``EndTaskFrame``) after the tail.
        vad_analyzer: a voice-activity analyzer (``SileroVADAnalyzer()``) run on the audio: the
            transport then pushes ``UserStartedSpeakingFrame``/``UserStoppedSpeakingFrame`` and
            interruptions, as a microphone transport would.
    """

    sample_rate: int | None = None
    mono: bool = True
    chunk_ms: int = 20
    realtime: bool = True
    lead_in_ms: int = 0
    silence_tail_ms: int = 1000
    end_when_done: bool = False
    vad_analyzer: VADAnalyzer | None = None


class WavFileInputTransport(FrameProcessor):
    """Emits a WAV file as :class:`InputAudioRawFrame`\\ s, then a tail of silence.

    Events: ``on_speech_finished(transport)`` once the file's own audio was pushed (the silence tail
    follows), and ``on_audio_finished(transport)`` once the last frame (tail included) was pushed.

    Args:
        source: a path to a 16-bit (or 8/24/32-bit) PCM WAV file, or audio already read.
        params: pacing, rate and silence settings.

    Raises:
        VoxpipeUsageError: the chunk duration is not a positive multiple of 10 ms.
        UnsupportedWavError: the file is not PCM WAV.
    """

    def __init__(
        self, source: str | Path | WavAudio, params: WavFileInputParams | None = None, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._params = params or WavFileInputParams()
        if self._params.chunk_ms <= 0 or self._params.chunk_ms % 10:
            raise VoxpipeUsageError(
                f"chunk_ms must be a positive multiple of 10, got {self._params.chunk_ms}"
            )
        self._audio = source if isinstance(source, WavAudio) else read_wav(source)
        self._register_event_handler("on_speech_finished")
        self._register_event_handler("on_audio_finished")
        self.frames_sent = 0
        analyzer = self._params.vad_analyzer
        self._speech = UserSpeechDetector(self, analyzer) if analyzer is not None else None

    @property
    def audio(self) -> WavAudio:
        """The audio being played."""
        return self._audio

    async def start(self, frame: StartFrame) -> None:
        """Begin sending audio once the pipeline has started."""
        self.create_task(self._play(frame.audio_in_sample_rate), name="play")

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Pass every frame on; this transport only adds audio."""
        await self.push_frame(frame, direction)

    def _prepare(self, rate: int) -> tuple[bytes, int, int]:
        audio = self._audio
        channels = 1 if self._params.mono else audio.channels
        resampler = StreamResampler(audio.sample_rate, rate, channels=audio.channels, out_channels=channels)
        pcm = resampler.process(audio.pcm) + resampler.flush()
        lead = silence(self._params.lead_in_ms, rate, channels)
        tail = silence(self._params.silence_tail_ms, rate, channels)
        return lead + pcm + tail, channels, len(lead) + len(pcm)

    async def _play(self, start_rate: int) -> None:
        rate = self._params.sample_rate or start_rate
        pcm, channels, speech_end = await asyncio.to_thread(self._prepare, rate)
        step = frames_for_ms(self._params.chunk_ms, rate) * SAMPLE_WIDTH * channels
        clock = ListenerClock(rate * SAMPLE_WIDTH * channels)  # the pipeline "hears" the file like a mic
        for offset in range(0, len(pcm), step):
            chunk = pcm[offset : offset + step]
            frame = InputAudioRawFrame(audio=chunk, sample_rate=rate, num_channels=channels)
            if self._speech is not None:
                await self._speech.feed(frame)
            await self.push_frame(frame)
            self.frames_sent += 1
            if offset < speech_end <= offset + step:
                await self._call_event_handler("on_speech_finished")
            if self._params.realtime:
                clock.hand_over(len(chunk))
                await clock.wait_until_due()  # the next chunk when a microphone would have it
            else:
                await asyncio.sleep(0)
        logger.debug("%s: sent %d frames (%d bytes at %d Hz)", self, self.frames_sent, len(pcm), rate)
        if self._speech is not None:
            await self._speech.finish()
        await self._call_event_handler("on_audio_finished")
        if self._params.end_when_done:
            await self.push_frame(EndTaskFrame(), FrameDirection.UPSTREAM)

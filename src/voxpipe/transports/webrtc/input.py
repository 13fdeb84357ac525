"""``WebRTCInputTransport``: the browser's microphone, as ``InputAudioRawFrame``\\ s.

aiortc decodes Opus to 48 kHz stereo 20 ms frames; they are resampled to the pipeline's input rate and
folded to mono, run through the VAD analyzer when there is one, and pushed. When the browser goes away the
transport fires ``on_client_disconnected`` and, with ``end_on_disconnect``, asks the task to end the run.
"""

from __future__ import annotations

import logging
from typing import Any

from voxpipe.audio import StreamResampler
from voxpipe.errors import ConnectionFailedError
from voxpipe.frames.audio import InputAudioRawFrame
from voxpipe.frames.control import EndTaskFrame, StartFrame
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor, ProcessorState
from voxpipe.transports._vad_input import UserSpeechDetector
from voxpipe.transports.webrtc.connection import WebRTCConnection
from voxpipe.transports.webrtc.params import WebRTCParams

__all__ = ["WebRTCInputTransport"]

logger = logging.getLogger(__name__)


class WebRTCInputTransport(FrameProcessor):
    """Pushes the browser's audio into the pipeline.

    Events: ``on_client_disconnected(input)`` once the browser's audio ends.

    Args:
        connection: the browser's peer connection.
        params: the transport's settings.
    """

    def __init__(self, connection: WebRTCConnection, params: WebRTCParams, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._connection = connection
        self._params = params
        analyzer = params.vad_analyzer
        self._speech = UserSpeechDetector(self, analyzer) if analyzer is not None else None
        self.frames_received = 0
        self._register_event_handler("on_client_disconnected")

    async def start(self, frame: StartFrame) -> None:
        """Start reading the browser's audio."""
        rate = self._params.audio_in_sample_rate or frame.audio_in_sample_rate
        self.create_task(self._receive(rate), name="receive")

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        """Pass every frame on: this processor only adds audio."""
        await self.push_frame(frame, direction)

    async def _receive(self, rate: int) -> None:
        resamplers: dict[tuple[int, int], StreamResampler] = {}
        try:
            async for audio in self._connection.audio_frames():
                key = (audio.sample_rate, audio.channels)
                resampler = resamplers.get(key)
                if resampler is None:
                    resampler = StreamResampler(
                        audio.sample_rate, rate, channels=audio.channels, out_channels=1
                    )
                    resamplers[key] = resampler
                pcm = resampler.process(audio.pcm)
                if not pcm or self.state is not ProcessorState.STARTED:
                    continue
                self.frames_received += 1
                frame = InputAudioRawFrame(audio=pcm, sample_rate=rate, num_channels=1)
                if self._speech is not None:
                    await self._speech.feed(frame)
                await self.push_frame(frame)
        except ConnectionFailedError as exc:
            logger.info("%s: %s", self, exc)
        logger.info("%s: the browser's audio ended after %d frames", self, self.frames_received)
        if self._speech is not None:
            await self._speech.finish()
        await self._call_event_handler("on_client_disconnected")
        if self._params.end_on_disconnect and self.state is ProcessorState.STARTED:
            await self.push_frame(EndTaskFrame(), FrameDirection.UPSTREAM)

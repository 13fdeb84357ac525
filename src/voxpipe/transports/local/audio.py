"""``LocalAudioTransport``: the machine's microphone and speaker as a pipeline's input and output.

::

    transport = LocalAudioTransport(LocalAudioTransportParams(vad_analyzer=SileroVADAnalyzer()))
    pipeline = Pipeline([transport.input(), llm, transport.output()])

The input reads 20 ms blocks from the microphone (PortAudio's audio thread hands them to the event loop
through a bounded queue: when the loop falls behind, the oldest audio is dropped, never piled up), runs
the VAD analyzer when there is one, and pushes ``InputAudioRawFrame``\\ s. The output is a sink on the
playout engine: the engine paces the bot's audio, keeps the played position (reported upstream on an
interruption, for the service to truncate the answer there) and announces the bot's speaking; the sink
writes each chunk to the speaker from a worker thread and, on an interruption, drops what the sound card
had queued.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from voxpipe.frames.audio import InputAudioRawFrame
from voxpipe.frames.control import CancelFrame, EndFrame, StartFrame
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor, ProcessorState
from voxpipe.transports._vad_input import UserSpeechDetector
from voxpipe.transports.local.devices import AudioDevices, InputStream, OutputStream, SoundDevices
from voxpipe.transports.playout import AudioOutputTransport, AudioSink, PlayoutParams

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.audio.vad.vad_analyzer import VADAnalyzer

__all__ = [
    "LocalAudioInputTransport",
    "LocalAudioOutputTransport",
    "LocalAudioTransport",
    "LocalAudioTransportParams",
]

logger = logging.getLogger(__name__)

_QUEUED_BLOCKS = 50
"""Microphone blocks (20 ms each) kept while the event loop is busy; older ones are dropped."""


@dataclass(kw_only=True)
class LocalAudioTransportParams:
    """How the local transport uses the sound card.

    Attributes:
        audio_in_enabled: read the microphone.
        audio_out_enabled: play the bot's audio on the speaker.
        audio_in_sample_rate: the microphone's rate; None: the StartFrame's ``audio_in_sample_rate``.
        audio_out_sample_rate: the speaker's rate; None: the StartFrame's ``audio_out_sample_rate``.
        vad_analyzer: a voice-activity analyzer run on the microphone (``SileroVADAnalyzer()``): the input
            then pushes ``UserStartedSpeakingFrame``/``UserStoppedSpeakingFrame`` and interruptions.
        input_device: a PortAudio device name or index (None: the default).
        output_device: the same for the speaker.
        playout_lead_ms: how far ahead of the speaker audio is written (a late timer leaves no gap).
        devices: the sound card (tests pass a fake one).
    """

    audio_in_enabled: bool = True
    audio_out_enabled: bool = True
    audio_in_sample_rate: int | None = None
    audio_out_sample_rate: int | None = None
    vad_analyzer: VADAnalyzer | None = None
    input_device: Any = None
    output_device: Any = None
    playout_lead_ms: int = 40
    devices: AudioDevices = field(default_factory=SoundDevices)


class LocalAudioInputTransport(FrameProcessor):
    """Pushes the microphone's audio into the pipeline (see the module docstring)."""

    def __init__(self, params: LocalAudioTransportParams, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._params = params
        analyzer = params.vad_analyzer
        self._speech = UserSpeechDetector(self, analyzer) if analyzer is not None else None
        self._blocks: deque[bytes] = deque(maxlen=_QUEUED_BLOCKS)
        self._ready = asyncio.Event()
        self._stream: InputStream | None = None
        self.blocks_dropped = 0

    async def start(self, frame: StartFrame) -> None:
        """Open the microphone and start pushing its audio."""
        if not self._params.audio_in_enabled:
            return
        rate = self._params.audio_in_sample_rate or frame.audio_in_sample_rate
        loop = asyncio.get_running_loop()

        def on_audio(pcm: bytes) -> None:  # PortAudio's thread
            loop.call_soon_threadsafe(self._take, pcm)

        self._stream = self._params.devices.open_input(self._params.input_device, rate, rate // 50, on_audio)
        self.create_task(self._push_audio(rate), name="microphone")

    def _take(self, pcm: bytes) -> None:
        if len(self._blocks) == self._blocks.maxlen:
            self.blocks_dropped += 1
        self._blocks.append(pcm)
        self._ready.set()

    async def _push_audio(self, rate: int) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._blocks:
                frame = InputAudioRawFrame(audio=self._blocks.popleft(), sample_rate=rate, num_channels=1)
                if self.state is not ProcessorState.STARTED:
                    return
                if self._speech is not None:
                    await self._speech.feed(frame)
                await self.push_frame(frame)

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        """Pass every frame on: this processor only adds audio."""
        await self.push_frame(frame, direction)

    async def stop(self, frame: EndFrame) -> None:
        """Close the microphone."""
        self._close()

    async def cancel(self, frame: CancelFrame) -> None:
        """Close the microphone."""
        self._close()

    async def cleanup(self) -> None:
        """Close the microphone if the run ended without an End or Cancel frame."""
        self._close()
        await super().cleanup()

    def _close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


class _SpeakerSink(AudioSink):
    """Writes each chunk to the speaker from a worker thread (a device write may block briefly)."""

    def __init__(self, stream: OutputStream) -> None:
        self._stream: OutputStream | None = stream

    async def write(self, pcm: bytes) -> None:
        if self._stream is not None:
            await asyncio.to_thread(self._stream.write, pcm)

    async def clear(self) -> None:
        if self._stream is not None:
            await asyncio.to_thread(self._stream.clear)

    async def aclose(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await asyncio.to_thread(stream.close)


class LocalAudioOutputTransport(AudioOutputTransport):
    """Plays the bot's audio on the speaker through the playout engine (see the module docstring)."""

    def __init__(self, params: LocalAudioTransportParams, **kwargs: Any) -> None:
        super().__init__(
            PlayoutParams(lead_ms=params.playout_lead_ms), sample_rate=params.audio_out_sample_rate, **kwargs
        )
        self._params = params

    async def open_sink(self, sample_rate: int) -> AudioSink:
        """Open the speaker at the playout rate."""
        return _SpeakerSink(self._params.devices.open_output(self._params.output_device, sample_rate))


class LocalAudioTransport:
    """The microphone (``input()``) and the speaker (``output()``) of this machine.

    Args:
        params: devices, rates and the VAD analyzer.
    """

    def __init__(self, params: LocalAudioTransportParams | None = None) -> None:
        self._params = params or LocalAudioTransportParams()
        self._input = LocalAudioInputTransport(self._params, name="local-audio.input")
        self._output = LocalAudioOutputTransport(self._params, name="local-audio.output")

    def input(self) -> LocalAudioInputTransport:
        """The microphone; put it first in the pipeline."""
        return self._input

    def output(self) -> LocalAudioOutputTransport:
        """The speaker; put it last in the pipeline."""
        return self._output

"""What an input transport does with a VAD analyzer: turn the user's audio into turn-taking frames.

When the analyzer says the user started speaking, the transport pushes ``UserStartedSpeakingFrame`` and,
when the run allows interruptions, ``StartInterruptionFrame`` (the bot stops talking, a speech-to-speech
service cancels its answer); when the user is done, ``UserStoppedSpeakingFrame`` and
``StopInterruptionFrame`` (a service with its own turn detection off commits the audio and answers).
This is the order pipecat's input transports use, so processors written for it see the same frames.
"""

from __future__ import annotations

import logging

from voxpipe.audio.pcm import downmix_to_mono
from voxpipe.audio.vad.vad_analyzer import VADAnalyzer, VADState
from voxpipe.frames.audio import InputAudioRawFrame
from voxpipe.frames.speech import (
    StartInterruptionFrame,
    StopInterruptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from voxpipe.processors.frame_processor import FrameProcessor

__all__ = ["UserSpeechDetector"]

logger = logging.getLogger(__name__)


class UserSpeechDetector:
    """Runs ``analyzer`` on the audio an input transport pushes and pushes the user's speaking frames.

    Args:
        transport: the input transport whose ``push_frame`` carries the frames downstream.
        analyzer: the voice-activity analyzer; its sample rate follows the audio it is given.
    """

    def __init__(self, transport: FrameProcessor, analyzer: VADAnalyzer) -> None:
        self._transport = transport
        self._analyzer = analyzer
        self._rate = 0
        self._speaking = False

    @property
    def analyzer(self) -> VADAnalyzer:
        """The analyzer in use."""
        return self._analyzer

    @property
    def user_speaking(self) -> bool:
        """Whether the user counts as speaking now."""
        return self._speaking

    async def feed(self, frame: InputAudioRawFrame) -> None:
        """Analyse one frame of the user's audio; push speaking frames when the user starts or stops."""
        if frame.sample_rate != self._rate:
            self._rate = frame.sample_rate
            self._analyzer.set_sample_rate(frame.sample_rate)
        audio = frame.audio if frame.num_channels == 1 else downmix_to_mono(frame.audio, frame.num_channels)
        state = self._analyzer.analyze_audio(audio)
        if state is VADState.SPEAKING and not self._speaking:
            await self._started()
        elif state is VADState.QUIET and self._speaking:
            await self._stopped()

    async def finish(self) -> None:
        """The audio ended: a user still speaking counts as done (so the last turn is answered)."""
        if self._speaking:
            await self._stopped()
        self._analyzer.reset()

    async def _started(self) -> None:
        self._speaking = True
        logger.debug("%s: user started speaking", self._transport)
        await self._transport.push_frame(UserStartedSpeakingFrame())
        if self._transport.interruptions_allowed:
            await self._transport.push_frame(StartInterruptionFrame())

    async def _stopped(self) -> None:
        self._speaking = False
        logger.debug("%s: user stopped speaking", self._transport)
        await self._transport.push_frame(UserStoppedSpeakingFrame())
        if self._transport.interruptions_allowed:
            await self._transport.push_frame(StopInterruptionFrame())

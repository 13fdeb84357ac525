"""``AudioOutputTransport``: an output processor that plays the bot's audio through a :class:`Playout`.

Frames in, engine calls out; an output only says where its audio goes (:meth:`open_sink`):

- ``OutputAudioRawFrame`` (downstream): resampled to the playout rate, mono, and written to the engine;
  the lane waits while the engine's buffer is full.
- ``TTSStartedFrame``: a new answer (its position counts from here). ``TTSStoppedFrame``: its audio is
  complete (the resampler's tail is played and the bot stops once it is heard).
- ``StartInterruptionFrame``: the engine stops and drops the rest; a :class:`PlaybackPositionFrame`
  (``interrupted=True``) goes upstream with the milliseconds of the answer that were heard, for a
  speech-to-speech service to truncate its memory of the answer there.
- ``EndFrame``: the buffered audio plays out, then the sink is closed. ``CancelFrame``: it closes at once.
- The bot's speaking: :class:`BotStartedSpeakingFrame` / :class:`BotStoppedSpeakingFrame` both ways (and
  the ``on_bot_started_speaking`` / ``on_bot_stopped_speaking`` events), :class:`BotSpeakingFrame`
  upstream every ``speaking_interval_ms``.

**Back-pressure.** While the engine's buffer is full the lane waits, so ordered frames pile up in the
lane; once it holds ``max_pending_frames`` (8 by default), a producer pushing more downstream waits too
(in its own lane, which an interruption cancels), and so on up the pipeline (every lane is bounded, see
:mod:`voxpipe.processors.frame_processor`): memory is bounded by the buffer plus a few frames per hop. A
producer that also reads control events (the realtime services) pushes from a task of its own, so that
waiting on playout never delays what it hears.

A new output is a sink plus one line::

    class SpeakerOutputTransport(AudioOutputTransport):
        async def open_sink(self, sample_rate: int) -> AudioSink:
            return SpeakerSink(sample_rate)
"""

from __future__ import annotations

from typing import Any

from voxpipe.audio import StreamResampler
from voxpipe.frames.audio import OutputAudioRawFrame, PlaybackPositionFrame, TTSStartedFrame, TTSStoppedFrame
from voxpipe.frames.base import Frame
from voxpipe.frames.control import CancelFrame, EndFrame, StartFrame
from voxpipe.frames.speech import (
    BotSpeakingFrame,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    StartInterruptionFrame,
)
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor, frame_handler
from voxpipe.transports.playout._engine import Playout, PlayoutParams
from voxpipe.transports.playout._sink import AudioSink

__all__ = ["AudioOutputTransport", "PlayoutResampler"]

_DOWN = FrameDirection.DOWNSTREAM
_UP = FrameDirection.UPSTREAM


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


class AudioOutputTransport(FrameProcessor):
    """Plays the bot's audio into the sink of a subclass, in real time. See the module docstring.

    Events: ``on_bot_started_speaking(output)``, ``on_bot_stopped_speaking(output)``.

    Args:
        playout: pacing and buffer settings.
        sample_rate: the playout rate; None takes the StartFrame's ``audio_out_sample_rate`` (or what
            :meth:`playout_rate` of a subclass says).
    """

    def __init__(self, playout: PlayoutParams, *, sample_rate: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("max_lane_frames", playout.max_pending_frames)
        super().__init__(**kwargs)
        self._sample_rate = sample_rate
        self._resampler = PlayoutResampler(0)
        self._playout = Playout(playout, self)
        self._register_event_handler("on_bot_started_speaking")
        self._register_event_handler("on_bot_stopped_speaking")

    # -- what a subclass provides -----------------------------------------------------------------------
    async def open_sink(self, sample_rate: int) -> AudioSink:
        """Open where the audio goes (called once, at the StartFrame). Subclasses implement it."""
        raise NotImplementedError

    def playout_rate(self, frame: StartFrame) -> int:
        """The rate audio is played at: the ``sample_rate`` given, else the StartFrame's output rate."""
        return self._sample_rate or frame.audio_out_sample_rate

    def listening(self) -> bool:
        """Whether anyone hears the audio now; audio for nobody is dropped, not kept for later."""
        return True

    # -- what was played --------------------------------------------------------------------------------
    @property
    def playout(self) -> Playout:
        """The engine (its position, buffer and clock)."""
        return self._playout

    @property
    def sample_rate(self) -> int:
        """The playout rate (0 before the pipeline starts)."""
        return self._playout.sample_rate

    @property
    def position_ms(self) -> int:
        """Milliseconds of the current answer's audio heard so far."""
        return self._playout.position_ms

    @property
    def total_played_ms(self) -> int:
        """Milliseconds of audio heard since the start."""
        return self._playout.total_played_ms

    @property
    def buffered_ms(self) -> int:
        """Milliseconds of audio waiting to be played."""
        return self._playout.buffered_ms

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def start(self, frame: StartFrame) -> None:
        """Open the sink at the playout rate and start the engine."""
        rate = self.playout_rate(frame)
        self._resampler = PlayoutResampler(rate)
        await self._playout.start(await self.open_sink(rate), rate)

    async def stop(self, frame: EndFrame) -> None:
        """Let the buffered audio play out, then close the sink."""
        await self._playout.drain()
        await self._playout.aclose()

    async def cancel(self, frame: CancelFrame) -> None:
        """Stop playing at once and close the sink."""
        await self._playout.aclose()

    async def cleanup(self) -> None:
        """Close the sink if the run ended without an End or Cancel frame."""
        await super().cleanup()
        await self._playout.aclose()

    # -- frames ---------------------------------------------------------------------------------------------
    @frame_handler(OutputAudioRawFrame)
    async def _handle_audio(self, frame: OutputAudioRawFrame, direction: FrameDirection) -> None:
        if direction is not _DOWN:
            await self.push_frame(frame, direction)
            return
        if self.listening():
            await self._playout.write(self._resampler.process(frame))

    @frame_handler(TTSStartedFrame)
    async def _handle_tts_started(self, frame: TTSStartedFrame, direction: FrameDirection) -> None:
        self._playout.begin_response()
        await self.push_frame(frame, direction)

    @frame_handler(TTSStoppedFrame)
    async def _handle_tts_stopped(self, frame: TTSStoppedFrame, direction: FrameDirection) -> None:
        await self._playout.end_response(self._resampler.flush())
        await self.push_frame(frame, direction)

    @frame_handler(StartInterruptionFrame)
    async def _handle_interruption(self, frame: StartInterruptionFrame, direction: FrameDirection) -> None:
        await self._playout.interrupt()
        self._resampler.reset()
        await self.push_frame(frame, direction)

    @frame_handler(Frame)
    async def _handle_other(self, frame: Frame, direction: FrameDirection) -> None:
        await self.push_frame(frame, direction)

    # -- what the engine tells (PlayoutListener) ------------------------------------------------------------
    async def on_speaking(self, speaking: bool) -> None:
        """Push ``BotStarted/StoppedSpeakingFrame`` both ways and emit the matching event."""
        frame_type = BotStartedSpeakingFrame if speaking else BotStoppedSpeakingFrame
        await self.push_frame(frame_type(), _UP)
        await self.push_frame(frame_type(), _DOWN)
        await self._call_event_handler("on_bot_started_speaking" if speaking else "on_bot_stopped_speaking")

    async def on_speaking_tick(self) -> None:
        """Push a ``BotSpeakingFrame`` upstream."""
        await self.push_frame(BotSpeakingFrame(), _UP)

    async def on_interrupted(self, position_ms: int) -> None:
        """Report the position heard upstream, for the service to truncate its answer there."""
        await self.push_frame(PlaybackPositionFrame(position_ms=position_ms, interrupted=True), _UP)

    async def on_playout_error(self, error: Exception) -> None:
        """Report a failing sink upstream, as any processor failure."""
        await self.push_error(f"{self}: playout failed: {type(error).__name__}: {error}", exception=error)

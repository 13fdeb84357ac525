"""``WavFileOutputTransport``: plays the bot's audio into a WAV file, like a speaker would.

In real-time mode (the default) the transport drains its buffer at the speed of speech, so its playback
position is what a listener would have heard so far: when the user interrupts, the unplayed rest is
dropped (never written) and the position is reported upstream in a :class:`PlaybackPositionFrame`, for a
speech-to-speech service to truncate its memory of the answer there. With ``realtime=False`` audio is
"played" the moment it arrives (useful for offline rendering and fast tests).

It also tells the pipeline when the bot speaks: :class:`BotStartedSpeakingFrame`, periodic
:class:`BotSpeakingFrame`\\ s and :class:`BotStoppedSpeakingFrame`, pushed both ways.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from voxpipe.audio import WavWriter
from voxpipe.audio.chunking import frames_for_ms
from voxpipe.frames.audio import (
    SAMPLE_WIDTH,
    OutputAudioRawFrame,
    PlaybackPositionFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from voxpipe.frames.base import Frame
from voxpipe.frames.control import CancelFrame, EndFrame, StartFrame
from voxpipe.frames.speech import (
    BotSpeakingFrame,
    StartInterruptionFrame,
)
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor
from voxpipe.transports._output import PlayoutResampler, announce_speaking

__all__ = ["WavFileOutputParams", "WavFileOutputTransport"]

logger = logging.getLogger(__name__)


@dataclass(kw_only=True)
class WavFileOutputParams:
    """How the bot's audio is played into the file.

    Attributes:
        sample_rate: rate of the file; None uses the StartFrame's ``audio_out_sample_rate``.
        realtime: play at the speed of speech (the playback position follows the clock).
        chunk_ms: playback granularity in real-time mode.
        stop_grace_ms: in real-time mode, how long the buffer may run dry before the bot counts as
            stopped when no ``TTSStoppedFrame`` said so.
        speaking_interval_ms: how often a ``BotSpeakingFrame`` is sent while audio plays.
    """

    sample_rate: int | None = None
    realtime: bool = True
    chunk_ms: int = 20
    stop_grace_ms: int = 500
    speaking_interval_ms: int = 200


class WavFileOutputTransport(FrameProcessor):
    """Writes every :class:`OutputAudioRawFrame` it receives (resampled to one rate, mono) to a WAV file.

    Events: ``on_bot_started_speaking(transport)``, ``on_bot_stopped_speaking(transport)``.

    Args:
        path: the file to write (created or overwritten when the pipeline starts).
        params: rate and pacing settings.
    """

    def __init__(self, path: str | Path, params: WavFileOutputParams | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._path = Path(path)
        self._params = params or WavFileOutputParams()
        self._rate = 0
        self._writer: WavWriter | None = None
        self._resampler = PlayoutResampler(0)
        self._buffer = bytearray()
        self._data_ready = asyncio.Event()
        self._drained = asyncio.Event()  # set while the buffer is empty and nothing is playing
        self._drained.set()
        self._enqueued = 0  # bytes ever enqueued for playback
        self._played = 0  # bytes whose playback completed
        self._chunk_started = 0.0  # loop time the chunk now playing started
        self._chunk_bytes = 0  # size of the chunk now playing (0: none)
        self._response_start = 0  # value of _enqueued when the current response began
        self._response_done = False
        self._speaking = False
        self._player: asyncio.Task[None] | None = None
        self._register_event_handler("on_bot_started_speaking")
        self._register_event_handler("on_bot_stopped_speaking")

    # -- what has been played -------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        """Rate of the file (0 before the pipeline starts)."""
        return self._rate

    def _played_bytes_now(self) -> int:
        played = self._played
        if self._chunk_bytes:
            elapsed = asyncio.get_running_loop().time() - self._chunk_started
            partial = int(elapsed * self._rate) * SAMPLE_WIDTH
            played += min(self._chunk_bytes, max(0, partial))
        return played

    @property
    def position_ms(self) -> int:
        """Milliseconds of the current response's audio played so far."""
        played = max(0, self._played_bytes_now() - self._response_start)
        return int(played * 1000 / (self._rate * SAMPLE_WIDTH)) if self._rate else 0

    @property
    def total_played_ms(self) -> int:
        """Milliseconds of audio played since the start."""
        return int(self._played_bytes_now() * 1000 / (self._rate * SAMPLE_WIDTH)) if self._rate else 0

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self, frame: StartFrame) -> None:
        """Open the file at the run's output rate and start the player."""
        self._rate = self._params.sample_rate or frame.audio_out_sample_rate
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = WavWriter(self._path, self._rate, 1)
        self._resampler = PlayoutResampler(self._rate)
        if self._params.realtime:
            self._player = self.create_task(self._play(), name="player")

    async def stop(self, frame: EndFrame) -> None:
        """Let the buffered audio finish playing, then close the file."""
        if self._params.realtime:
            budget = len(self._buffer) / (self._rate * SAMPLE_WIDTH) + 1.0
            try:
                async with asyncio.timeout(budget):
                    await self._drained.wait()
            except TimeoutError:
                logger.warning("%s: playback did not drain in %.1f s; closing anyway", self, budget)
        await self._halt()

    async def cancel(self, frame: CancelFrame) -> None:
        """Stop playing and close the file."""
        await self._halt()

    async def cleanup(self) -> None:
        """Close the file if the run ended without an End or Cancel frame."""
        await super().cleanup()
        self._close_writer()

    async def _halt(self) -> None:
        if self._player is not None:
            await self.cancel_task(self._player)
            self._player = None
            self._chunk_bytes = 0
        if self._speaking:
            await self._set_speaking(False)
        self._close_writer()

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # -- frames ---------------------------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Queue audio for playback; track responses; handle interruptions; pass the rest on."""
        if isinstance(frame, OutputAudioRawFrame) and direction is FrameDirection.DOWNSTREAM:
            await self._enqueue(frame)
            return
        if isinstance(frame, TTSStartedFrame):
            self._response_start = self._enqueued
            self._response_done = False
        elif isinstance(frame, TTSStoppedFrame):
            await self._flush_resamplers()
            self._response_done = True
            if not self._params.realtime and self._speaking:
                await self._set_speaking(False)
        elif isinstance(frame, StartInterruptionFrame):
            await self._interrupt()
        await self.push_frame(frame, direction)

    async def _enqueue(self, frame: OutputAudioRawFrame) -> None:
        pcm = self._resampler.process(frame)
        if pcm:
            await self._play_pcm(pcm)

    async def _play_pcm(self, pcm: bytes) -> None:
        self._enqueued += len(pcm)
        if not self._params.realtime:
            if not self._speaking:
                await self._set_speaking(True)
            if self._writer is not None:
                self._writer.write(pcm)
            self._played += len(pcm)
            return
        self._buffer += pcm
        self._drained.clear()
        self._data_ready.set()

    async def _flush_resamplers(self) -> None:
        """Play the tails the resamplers hold back, now that the response's audio is complete."""
        tail = self._resampler.flush()
        if tail:
            await self._play_pcm(tail)

    async def _interrupt(self) -> None:
        """Stop playback where it is, drop the rest, and report the position upstream."""
        position = self.position_ms
        if self._player is not None:
            await self.cancel_task(self._player)
            self._played = self._played_bytes_now()
            self._chunk_bytes = 0
        dropped = len(self._buffer)
        self._buffer.clear()
        self._drained.set()
        self._enqueued = self._played
        self._resampler.reset()
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: interrupted at %d ms; dropped %d bytes", self, position, dropped)
        await self.push_frame(
            PlaybackPositionFrame(position_ms=position, interrupted=True), FrameDirection.UPSTREAM
        )
        if self._speaking:
            await self._set_speaking(False)
        if self._params.realtime and self._writer is not None:
            self._player = self.create_task(self._play(), name="player")

    async def _set_speaking(self, speaking: bool) -> None:
        self._speaking = speaking
        await announce_speaking(self, speaking)

    async def _play(self) -> None:
        """The player: writes the buffer to the file one chunk at a time, at the speed of speech."""
        loop = asyncio.get_running_loop()
        step = frames_for_ms(self._params.chunk_ms, self._rate) * SAMPLE_WIDTH
        grace = self._params.stop_grace_ms / 1000
        interval = self._params.speaking_interval_ms / 1000
        next_at = last_speaking_note = loop.time()
        while True:
            if not self._buffer:
                await self._wait_for_audio(grace)
                next_at = loop.time()
                continue
            if not self._speaking:
                await self._set_speaking(True)
                last_speaking_note = loop.time()
            chunk = bytes(self._buffer[:step])
            del self._buffer[:step]
            if self._writer is not None:
                self._writer.write(chunk)
            self._chunk_started, self._chunk_bytes = loop.time(), len(chunk)
            next_at += len(chunk) / (self._rate * SAMPLE_WIDTH)
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            self._played += len(chunk)
            self._chunk_bytes = 0
            if loop.time() - last_speaking_note >= interval:
                last_speaking_note = loop.time()
                await self.push_frame(BotSpeakingFrame(), FrameDirection.UPSTREAM)

    async def _wait_for_audio(self, grace: float) -> None:
        """Wait for more audio; say the bot stopped when the response ended or the buffer stayed dry."""
        self._data_ready.clear()
        self._drained.set()
        if self._speaking and self._response_done:
            await self._set_speaking(False)
        try:
            async with asyncio.timeout(grace if self._speaking else None):
                await self._data_ready.wait()
        except TimeoutError:
            await self._set_speaking(False)

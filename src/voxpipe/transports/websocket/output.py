"""``WebsocketOutputTransport``: plays the bot's audio to the peer in real time, like a phone line.

Audio frames are resampled to one playout rate (the serializer's wire rate by default) and buffered; a
player task sends one chunk (20 ms by default) per chunk duration, each chunk one message, a little
ahead of the listener (``playout_lead_ms``, 40 ms by default) so that a late timer leaves no gap. It keeps
the listener's clock: each chunk plays when the one before it ends, or at once if the listener ran dry.
Sending at the speed of speech, not as fast as audio arrives, is what makes interruptions work: what was
not sent yet can still be dropped, and the playback position is known (to within the network's delay;
what the lead had sent is dropped by the peer on Twilio's ``clear``, and counted as not played).

The buffer is bounded (``max_buffer_ms``): when it is full, the transport stops taking audio frames until
the player makes room, so the socket and the peer's buffer never hold more than the lead and a chunk.

On a :class:`StartInterruptionFrame` the player stops, the unsent audio is dropped, the serializer's
message for the interruption is sent (Twilio's ``clear``, which drops what Twilio buffered) and a
:class:`PlaybackPositionFrame` (``interrupted=True``) goes upstream with the milliseconds of the current
response that were played: a speech-to-speech service truncates its memory of the answer there.

The transport also says when the bot speaks: :class:`BotStartedSpeakingFrame` and
:class:`BotStoppedSpeakingFrame` both ways, :class:`BotSpeakingFrame` upstream every
``speaking_interval_ms``. Frames the serializer carries (marks, ...) are sent in order with the audio.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from voxpipe.audio.chunking import frames_for_ms
from voxpipe.frames.audio import (
    SAMPLE_WIDTH,
    OutputAudioRawFrame,
    PlaybackPositionFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from voxpipe.frames.base import Frame, SystemFrame
from voxpipe.frames.control import CancelFrame, EndFrame, StartFrame
from voxpipe.frames.speech import (
    BotSpeakingFrame,
    StartInterruptionFrame,
)
from voxpipe.processors.frame_processor import (
    FrameDirection,
    FrameProcessor,
    ProcessorState,
    frame_handler,
)
from voxpipe.transports._output import PlayoutResampler, announce_speaking
from voxpipe.transports.websocket._link import LinkState, WebsocketLink

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.transports.websocket.params import WebsocketParams

__all__ = ["WebsocketOutputTransport"]

logger = logging.getLogger(__name__)

_DOWN = FrameDirection.DOWNSTREAM
_UP = FrameDirection.UPSTREAM


class WebsocketOutputTransport(FrameProcessor):
    """Sends frames to the peer through the serializer, audio paced in real time.

    Events: ``on_bot_started_speaking(output)``, ``on_bot_stopped_speaking(output)``.

    Args:
        link: the peer holder shared with the input transport.
        params: the transport's settings.
    """

    def __init__(self, link: WebsocketLink, params: WebsocketParams, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._link = link
        self._params = params
        self._rate = 0
        self._step = 0  # bytes per chunk
        self._max_buffer = 0  # bytes
        self._resampler = PlayoutResampler(0)
        # Byte counters since the start, all in playout PCM: the buffer holds [_sent, _enqueued).
        self._pcm = bytearray()
        self._enqueued = 0
        self._sent = 0
        self._played = 0  # bytes whose playing time is over
        # Chunks sent whose playing is not over, as the listener's clock has them: (start, end, bytes).
        self._inflight: deque[tuple[float, float, int]] = deque()
        self._play_end = 0.0  # when the listener runs out of what was sent
        self._response_start = 0
        self._response_done = False
        self._messages: deque[tuple[int, str | bytes]] = deque()  # (due at _sent >= offset, message)
        self._data_ready = asyncio.Event()
        self._room = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._speaking = False
        self._player: asyncio.Task[None] | None = None
        self.messages_sent = 0
        link.add_detach_listener(self._drop_playout)
        self._register_event_handler("on_bot_started_speaking")
        self._register_event_handler("on_bot_stopped_speaking")

    # -- what was played ------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        """The playout rate (0 before the start)."""
        return self._rate

    def _played_now(self) -> int:
        now = asyncio.get_running_loop().time()
        played = self._played
        for start, end, size in self._inflight:
            if now >= end:
                played += size
            elif now > start:
                played += min(size, int((now - start) * self._rate) * SAMPLE_WIDTH)
            else:
                break
        return played

    def _retire(self) -> None:
        """Count the chunks whose playing is over as played."""
        now = asyncio.get_running_loop().time()
        while self._inflight and self._inflight[0][1] <= now:
            self._played += self._inflight.popleft()[2]

    def _ms(self, nbytes: int) -> int:
        return int(nbytes * 1000 / (self._rate * SAMPLE_WIDTH)) if self._rate else 0

    @property
    def position_ms(self) -> int:
        """Milliseconds of the current response's audio played so far."""
        return self._ms(max(0, self._played_now() - self._response_start))

    @property
    def buffered_ms(self) -> int:
        """Milliseconds of audio waiting to be sent."""
        return self._ms(len(self._pcm))

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self, frame: StartFrame) -> None:
        """Pick the playout rate and start the player."""
        serializer_rate = self._link.serializer.output_sample_rate
        self._rate = self._params.audio_out_sample_rate or serializer_rate or frame.audio_out_sample_rate
        self._resampler = PlayoutResampler(self._rate)
        self._step = frames_for_ms(self._params.audio_out_chunk_ms, self._rate) * SAMPLE_WIDTH
        self._max_buffer = self._step * (self._params.max_buffer_ms // self._params.audio_out_chunk_ms)
        self._player = self.create_task(self._play(), name="player")

    async def stop(self, frame: EndFrame) -> None:
        """Let the buffered audio play out (while a peer listens), then close the connection."""
        if self._link.state is LinkState.CONNECTED and not self._drained.is_set():
            budget = self._ms(len(self._pcm)) / 1000 + self._params.playout_lead_ms / 1000 + 1.0
            try:
                async with asyncio.timeout(budget):
                    await self._drained.wait()
            except TimeoutError:
                logger.warning("%s: playout did not drain in %.1f s; closing anyway", self, budget)
        await self._halt()
        await self._link.close_connection(1000, "pipeline ended")

    async def cancel(self, frame: CancelFrame) -> None:
        """Stop playing at once."""
        await self._halt()

    async def _halt(self) -> None:
        if self._player is not None:
            await self.cancel_task(self._player)
            self._player = None
        self._end_chunk()
        self._drop_playout()
        if self._speaking:
            await self._set_speaking(False)

    # -- frames ---------------------------------------------------------------------------------------
    @frame_handler(OutputAudioRawFrame)
    async def _handle_audio(self, frame: OutputAudioRawFrame, direction: FrameDirection) -> None:
        if direction is not _DOWN:
            await self.push_frame(frame, direction)
            return
        if self._link.state is not LinkState.CONNECTED:
            return  # nobody listens: the audio is dropped, not kept for a later peer
        self._response_done = False  # audio after a TTSStoppedFrame belongs to a new answer
        await self._buffer(self._resampler.process(frame))

    async def _buffer(self, pcm: bytes) -> None:
        if not pcm:
            return
        self._pcm += pcm
        self._enqueued += len(pcm)
        self._drained.clear()
        self._data_ready.set()
        while len(self._pcm) > self._max_buffer and self._link.state is LinkState.CONNECTED:
            self._room.clear()
            await self._room.wait()  # cancelled by an interruption: the frame is dropped with the rest

    @frame_handler(TTSStartedFrame)
    async def _handle_tts_started(self, frame: TTSStartedFrame, direction: FrameDirection) -> None:
        self._response_start = self._enqueued
        self._response_done = False
        await self.push_frame(frame, direction)

    @frame_handler(TTSStoppedFrame)
    async def _handle_tts_stopped(self, frame: TTSStoppedFrame, direction: FrameDirection) -> None:
        await self._buffer(self._resampler.flush())
        self._response_done = True
        self._data_ready.set()  # the player may send a short last chunk now
        await self.push_frame(frame, direction)

    @frame_handler(StartInterruptionFrame)
    async def _handle_interruption(self, frame: StartInterruptionFrame, direction: FrameDirection) -> None:
        position = self.position_ms
        if self._player is not None:
            await self.cancel_task(self._player)
            self._player = None
        self._end_chunk()
        dropped = len(self._pcm)
        self._drop_playout()
        self._resampler.reset()
        message = self._link.serializer.serialize(frame)
        if message is not None:
            await self._send(message)
        logger.debug("%s: interrupted at %d ms; dropped %d bytes unsent", self, position, dropped)
        await self.push_frame(PlaybackPositionFrame(position_ms=position, interrupted=True), _UP)
        if self._speaking:
            await self._set_speaking(False)
        if self.state in (ProcessorState.STARTED, ProcessorState.ENDED):
            self._player = self.create_task(self._play(), name="player")
        await self.push_frame(frame, direction)

    @frame_handler(Frame)
    async def _handle_other(self, frame: Frame, direction: FrameDirection) -> None:
        """Frames the serializer carries go out: system frames now, others after the audio before them."""
        if direction is _DOWN and self._link.state is LinkState.CONNECTED:
            message = self._link.serializer.serialize(frame)
            if message is not None:
                if isinstance(frame, SystemFrame) or not self._pcm:
                    await self._send(message)
                else:
                    self._messages.append((self._enqueued, message))
        await self.push_frame(frame, direction)

    def _end_chunk(self) -> None:
        """The player was stopped: what was sent counts as played up to now, the rest as dropped."""
        self._played = self._played_now()
        self._inflight.clear()
        self._play_end = 0.0
        self._sent = self._played

    def _drop_playout(self) -> None:
        """Forget every unsent chunk and message (interruption, peer gone, end of the run)."""
        self._pcm.clear()
        self._messages.clear()
        self._enqueued = self._sent
        self._response_start = min(self._response_start, self._enqueued)
        self._drained.set()
        self._room.set()
        self._data_ready.set()

    async def _send(self, message: str | bytes) -> None:
        if await self._link.send(message):
            self.messages_sent += 1

    async def _set_speaking(self, speaking: bool) -> None:
        self._speaking = speaking
        await announce_speaking(self, speaking)

    # -- the player -----------------------------------------------------------------------------------
    async def _play(self) -> None:
        """Send each chunk ``playout_lead_ms`` before the listener needs it, never further ahead."""
        loop = asyncio.get_running_loop()
        period = self._params.audio_out_chunk_ms / 1000
        lead = self._params.playout_lead_ms / 1000
        interval = self._params.speaking_interval_ms / 1000
        serializer = self._link.serializer
        last_note = loop.time()
        while True:
            self._retire()
            await self._send_due_messages()
            if not self._pcm:
                await self._wait_for_audio()
                continue
            ahead = self._play_end - lead - loop.time()
            if ahead > 0:
                await asyncio.sleep(ahead)  # the listener still has more than the lead to play
            if len(self._pcm) < self._step and not self._response_done:
                await self._wait_for_full_chunk(max(period, self._play_end - loop.time()))
            if not self._pcm:
                continue
            if not self._speaking:
                await self._set_speaking(True)
                last_note = loop.time()
            size = min(self._step, len(self._pcm))
            if self._messages:  # a chunk never straddles a message (those due were just sent)
                size = min(size, self._messages[0][0] - self._sent)
            chunk = bytes(self._pcm[:size])
            del self._pcm[:size]
            start = max(loop.time(), self._play_end)  # a listener that ran dry starts again now
            self._play_end = start + size / (self._rate * SAMPLE_WIDTH)
            self._inflight.append((start, self._play_end, size))
            self._sent += size
            self._room.set()
            message = serializer.serialize(OutputAudioRawFrame(audio=chunk, sample_rate=self._rate))
            if message is not None:
                await self._send(message)
            if loop.time() - last_note >= interval:
                last_note = loop.time()
                await self.push_frame(BotSpeakingFrame(), _UP)

    async def _send_due_messages(self) -> None:
        while self._messages and self._messages[0][0] <= self._sent:
            _, message = self._messages.popleft()
            await self._send(message)

    async def _wait_for_full_chunk(self, timeout: float) -> None:
        """Wait (at most until the listener runs dry) for the rest of a chunk: messages stay whole chunks."""
        try:
            async with asyncio.timeout(timeout):
                while len(self._pcm) < self._step and not self._response_done and self._pcm:
                    self._data_ready.clear()
                    await self._data_ready.wait()
        except TimeoutError:
            pass

    async def _wait_for_audio(self) -> None:
        """Wait for audio; once what was sent has played, say the bot stopped (response over, or dry)."""
        loop = asyncio.get_running_loop()
        self._data_ready.clear()
        remaining = self._play_end - loop.time()
        if remaining > 0:
            try:
                async with asyncio.timeout(remaining):
                    await self._data_ready.wait()
                    return  # more audio before the listener ran out: keep playing
            except TimeoutError:
                pass
        self._retire()
        self._drained.set()
        if self._speaking and (self._response_done or self._link.state is not LinkState.CONNECTED):
            await self._set_speaking(False)
        try:
            async with asyncio.timeout(self._params.stop_grace_ms / 1000 if self._speaking else None):
                await self._data_ready.wait()
        except TimeoutError:
            await self._set_speaking(False)

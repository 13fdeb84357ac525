"""``Playout``: the one real-time audio clock every output transport plays through.

What the engine does, so that no output does it again:

- **Pacing.** A player task hands the buffered audio to the :class:`AudioSink` one chunk at a time
  (``chunk_ms``, 20 ms by default), each ``lead_ms`` before the listener needs it (0: just as the chunk
  before it ends). The listener's timeline is a :class:`ListenerClock`: a chunk handed over after the
  listener ran dry starts then, so a late timer never makes audio play faster than speech.
- **Played position.** Byte counters plus the chunks still playing give what the listener has heard, to
  the sample, at any moment of the loop's clock: :attr:`Playout.position_ms` (of the current answer,
  counted from :meth:`Playout.begin_response`) and :attr:`Playout.total_played_ms`.
- **Interruption.** :meth:`Playout.interrupt` stops the player, drops every unplayed byte (the chunks
  already handed over count as played up to now; what the lead had sent is counted as not heard), asks
  the sink to :meth:`~AudioSink.clear` its own buffer, reports the position to the listener and starts
  again, ready for the next answer. The position reported is computed once, from one reading of the clock:
  the value the engine gives afterwards is the same number.
- **Speaking announcements.** The engine tells its :class:`PlayoutListener` when the bot starts speaking
  (the first chunk is handed over), every ``speaking_interval_ms`` while it speaks, and when it stops (the
  answer's audio is over and heard, after an interruption, or after ``stop_grace_ms`` without audio).
- **Drain.** :meth:`Playout.drain` waits until everything buffered was heard (an ``EndFrame``).
- **Bounded buffer.** :meth:`Playout.write` returns once the buffer holds at most ``max_buffer_ms``: the
  caller (the output processor's lane) waits for the player to make room, which is the back-pressure.
- **Offline mode.** With ``realtime=False`` nothing is paced: audio goes to the sink as it arrives and
  counts as played at once (rendering a file, fast tests).

Usage (what :class:`AudioOutputTransport` does for every output)::

    playout = Playout(PlayoutParams(lead_ms=40), listener)
    await playout.start(sink, sample_rate=8000)   # starts the player task
    playout.begin_response()                      # a new answer: its position counts from here
    await playout.write(pcm)                      # mono PCM16 at 8 kHz; waits while the buffer is full
    await playout.end_response()                  # the answer's audio is complete
    position_ms = await playout.interrupt()       # the user spoke: stop, drop, report
    await playout.drain()                         # the run ends: let the rest play
    await playout.aclose()                        # stop the player, close the sink

All methods are called from the event loop; none is thread-safe. Cancelling :meth:`Playout.write` (an
interruption cancels the lane that waits in it) is safe: the audio it held is dropped with the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from voxpipe.audio.chunking import frames_for_ms
from voxpipe.errors import VoxpipeUsageError
from voxpipe.processors.frame_processor import accept_backpressure
from voxpipe.transports.playout._clock import ListenerClock
from voxpipe.transports.playout._sink import AudioSink

__all__ = ["Playout", "PlayoutListener", "PlayoutParams"]

logger = logging.getLogger(__name__)

SAMPLE_WIDTH = 2  # the engine plays mono 16-bit PCM
DRAIN_SLACK_S = 1.0
"""How much longer than the buffered audio :meth:`Playout.drain` waits before it gives up."""

Marker = Callable[[], Awaitable[None]]


@dataclass(kw_only=True)
class PlayoutParams:
    """How an output plays the bot's audio.

    Attributes:
        realtime: pace audio at the speed of speech. False hands it to the sink as it arrives.
        chunk_ms: duration of each chunk handed to the sink (a multiple of 10 ms).
        lead_ms: how long before the listener needs it each chunk is handed over, so that a late timer or
            a network hiccup leaves no gap in the bot's voice. Also how much can still be playing at the
            listener when an interruption clears it (that part counts as not heard).
        max_buffer_ms: most audio the engine buffers; :meth:`Playout.write` waits while it is full.
        stop_grace_ms: how long the buffer may run dry before the bot counts as stopped, when nothing
            said the answer's audio was complete.
        speaking_interval_ms: how often the listener hears that the bot is still speaking.
        max_pending_frames: most ordered frames an output's lane holds while the buffer is full; beyond it
            the producer pushing downstream waits too (see :class:`AudioOutputTransport`). None leaves
            the lane unbounded. A producer that reads control events on the task it would push from
            must push from a task of its own instead (as the realtime services do), or it would hear
            the user late.

    Raises:
        VoxpipeUsageError: a duration is out of range.
    """

    realtime: bool = True
    chunk_ms: int = 20
    lead_ms: int = 0
    max_buffer_ms: int = 3000
    stop_grace_ms: int = 500
    speaking_interval_ms: int = 200
    max_pending_frames: int | None = 8

    def __post_init__(self) -> None:
        if self.chunk_ms <= 0 or self.chunk_ms % 10:
            raise VoxpipeUsageError(f"chunk_ms must be a positive multiple of 10, got {self.chunk_ms}")
        if self.max_buffer_ms < self.chunk_ms:
            raise VoxpipeUsageError(
                f"max_buffer_ms ({self.max_buffer_ms}) must hold at least one chunk ({self.chunk_ms} ms)"
            )
        if self.lead_ms < 0:
            raise VoxpipeUsageError(f"lead_ms must be 0 or more, got {self.lead_ms}")
        if self.max_pending_frames is not None and self.max_pending_frames < 1:
            raise VoxpipeUsageError(f"max_pending_frames must be 1 or more, got {self.max_pending_frames}")


class PlayoutListener(Protocol):
    """Who hears what the engine observes (the output processor: it turns these into frames)."""

    async def on_speaking(self, speaking: bool) -> None:
        """The bot started (True) or stopped (False) being heard."""

    async def on_speaking_tick(self) -> None:
        """The bot is still being heard (every ``speaking_interval_ms``)."""

    async def on_interrupted(self, position_ms: int) -> None:
        """An interruption stopped the answer after ``position_ms`` of it were heard."""

    async def on_playout_error(self, error: Exception) -> None:
        """The sink failed: playback stopped for good (later audio is dropped as it comes)."""


class Playout:
    """Paces audio to a sink and keeps what the listener has heard. See the module docstring.

    Args:
        params: pacing and buffer settings.
        listener: told about speaking and interruptions.
    """

    def __init__(self, params: PlayoutParams, listener: PlayoutListener) -> None:
        self.params = params
        self._listener = listener
        self._sink: AudioSink | None = None
        self._rate = 0
        self._step = 0  # bytes per chunk
        self._max_buffer = 0  # bytes
        self._clock = ListenerClock(1)
        # Byte counters since the start, in playout PCM: the buffer holds [_sent, _enqueued).
        self._pcm = bytearray()
        self._enqueued = 0
        self._sent = 0
        self._played = 0  # bytes whose playing is over
        # Chunks handed over whose playing is not over, on the listener clock: (start, end, size).
        self._inflight: deque[tuple[float, float, int]] = deque()
        self._markers: deque[tuple[int, Marker]] = deque()  # (due once _sent >= offset, callback)
        self._response_start = 0
        self._response_done = False
        self._data_ready = asyncio.Event()
        self._room = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._speaking = False
        self._player: asyncio.Task[None] | None = None

    # -- what was heard -------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        """The playout rate (0 before :meth:`start`)."""
        return self._rate

    @property
    def speaking(self) -> bool:
        """Whether the bot is being heard."""
        return self._speaking

    def _ms(self, nbytes: int) -> int:
        return int(nbytes * 1000 / (self._rate * SAMPLE_WIDTH)) if self._rate else 0

    def _played_at(self, now: float) -> int:
        played = self._played
        for start, end, size in self._inflight:
            if now >= end:
                played += size
            elif now > start:
                played += min(size, int((now - start) * self._rate) * SAMPLE_WIDTH)
            else:
                break
        return played

    def _position_at(self, now: float) -> int:
        return self._ms(max(0, self._played_at(now) - self._response_start))

    @property
    def position_ms(self) -> int:
        """Milliseconds of the current answer heard so far (0 before :meth:`start`)."""
        return self._position_at(ListenerClock.now()) if self._rate else 0

    @property
    def total_played_ms(self) -> int:
        """Milliseconds of audio heard since the start."""
        return self._ms(self._played_at(ListenerClock.now())) if self._rate else 0

    @property
    def buffered_ms(self) -> int:
        """Milliseconds of audio waiting to be handed to the sink."""
        return self._ms(len(self._pcm))

    @property
    def has_unsent_audio(self) -> bool:
        """Whether audio waits in the buffer (something added now would play after it)."""
        return bool(self._pcm)

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self, sink: AudioSink, sample_rate: int) -> None:
        """Play into ``sink`` at ``sample_rate``; in real-time mode, start the player task."""
        self._sink = sink
        self._rate = sample_rate
        self._clock = ListenerClock(sample_rate * SAMPLE_WIDTH)
        self._step = frames_for_ms(self.params.chunk_ms, sample_rate) * SAMPLE_WIDTH
        self._max_buffer = self._step * (self.params.max_buffer_ms // self.params.chunk_ms)
        if self.params.realtime:
            self._start_player()

    def _start_player(self) -> None:
        self._player = asyncio.get_running_loop().create_task(self._run_player(), name="playout.player")

    async def _stop_player(self) -> bool:
        """Stop the player task; returns whether one was running."""
        task, self._player = self._player, None
        if task is None:
            return False
        if task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait({task})
        return True

    async def drain(self) -> None:
        """Wait until the listener heard everything buffered (at most its duration plus a second)."""
        if not self.params.realtime or self._drained.is_set():
            return
        budget = (len(self._pcm) / SAMPLE_WIDTH / self._rate) + self.params.lead_ms / 1000 + DRAIN_SLACK_S
        try:
            async with asyncio.timeout(budget):
                await self._drained.wait()
        except TimeoutError:
            logger.warning("playout did not drain in %.1f s; stopping anyway", budget)

    async def aclose(self) -> None:
        """Stop playing at once (what was handed over counts as heard up to now) and close the sink.

        Safe to call twice.
        """
        await self._stop_player()
        self._end_chunks(ListenerClock.now() if self._rate else 0.0)
        self.drop()
        if self._speaking:
            await self._set_speaking(False)
        sink, self._sink = self._sink, None
        if sink is not None:
            await sink.aclose()

    # -- audio in -------------------------------------------------------------------------------------
    def begin_response(self) -> None:
        """A new answer starts: :attr:`position_ms` counts from the audio written after this."""
        self._response_start = self._enqueued
        self._response_done = False

    async def write(self, pcm: bytes) -> None:
        """Buffer mono PCM16 at the playout rate; wait while the buffer holds more than ``max_buffer_ms``.

        Audio written after :meth:`end_response` belongs to a new answer. Cancelling the wait is safe.
        """
        if not pcm or self._sink is None or (self.params.realtime and self._player is None):
            return  # nobody plays it: not started, closed, or the sink failed
        self._response_done = False
        self._enqueued += len(pcm)
        if not self.params.realtime:
            if not self._speaking:
                await self._set_speaking(True)
            await self._sink.write(pcm)
            self._sent = self._played = self._enqueued
            return
        self._pcm += pcm
        self._drained.clear()
        self._data_ready.set()
        while len(self._pcm) > self._max_buffer:
            self._room.clear()
            await self._room.wait()

    async def end_response(self, tail: bytes = b"") -> None:
        """The answer's audio is complete (``tail``: what a resampler held back): play the rest and stop."""
        await self.write(tail)
        self._response_done = True
        self._data_ready.set()  # the player may hand over a short last chunk now
        if not self.params.realtime and self._speaking:
            await self._set_speaking(False)

    async def add_marker(self, callback: Marker) -> None:
        """Run ``callback`` when the audio buffered so far has been handed to the sink (at once if none is).

        Used for messages that travel in order with the audio (a Twilio ``mark``).
        """
        if not self._pcm:
            await callback()
        else:
            self._markers.append((self._enqueued, callback))

    # -- interruption ---------------------------------------------------------------------------------
    async def interrupt(self) -> int:
        """Stop, drop every unplayed byte, clear the sink, tell the listener; returns the position in ms."""
        now = ListenerClock.now() if self._rate else 0.0
        position = self._position_at(now)
        was_playing = await self._stop_player()
        self._end_chunks(now)
        dropped = len(self._pcm)
        self.drop()
        if self._sink is not None:
            await self._sink.clear()
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("interrupted at %d ms; dropped %d bytes", position, dropped)
        await self._listener.on_interrupted(position)
        if self._speaking:
            await self._set_speaking(False)
        if was_playing:
            self._start_player()
        return position

    def drop(self) -> None:
        """Forget every unsent byte and marker (interruption, the listener left, the end of the run)."""
        self._pcm.clear()
        self._markers.clear()
        self._enqueued = self._sent
        self._response_start = min(self._response_start, self._enqueued)
        self._response_done = True
        self._drained.set()
        self._room.set()
        self._data_ready.set()

    def _end_chunks(self, now: float) -> None:
        """The player stopped: what was handed over counts as heard up to ``now``, the rest as dropped."""
        self._played = self._played_at(now)
        self._inflight.clear()
        self._clock.reset()
        self._sent = self._played

    async def _set_speaking(self, speaking: bool) -> None:
        self._speaking = speaking
        await self._listener.on_speaking(speaking)

    # -- the player -----------------------------------------------------------------------------------
    def _retire(self) -> None:
        """Count the chunks whose playing is over as played."""
        now = ListenerClock.now()
        while self._inflight and self._inflight[0][1] <= now:
            self._played += self._inflight.popleft()[2]

    async def _run_player(self) -> None:
        """The player task: plays until cancelled; a failing sink is reported, never lost."""
        # The lanes wait for this task to make room: what it pushes (speaking frames) must never wait.
        accept_backpressure(False)
        try:
            await self._play()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Nothing plays any more: drop what waits (unblocking a full buffer's writer) and let later
            # audio be dropped as it comes, so the pipeline goes on and can end normally.
            logger.exception("the playout sink failed; playback stopped")
            self._player = None
            self._end_chunks(ListenerClock.now())
            self.drop()
            if self._speaking:
                await self._set_speaking(False)
            await self._listener.on_playout_error(exc)

    async def _play(self) -> None:
        """Hand each chunk over ``lead_ms`` before the listener needs it, never further ahead."""
        period = self.params.chunk_ms / 1000
        lead = self.params.lead_ms / 1000
        interval = self.params.speaking_interval_ms / 1000
        last_tick = ListenerClock.now()
        while True:
            self._retire()
            await self._run_due_markers()
            if not self._pcm:
                await self._wait_for_audio()
                continue
            await self._clock.wait_until_due(lead)
            if len(self._pcm) < self._step and not self._response_done:
                await self._wait_for_full_chunk(max(period, self._clock.remaining()))
            size = min(self._step, len(self._pcm))
            if self._markers:  # a chunk never straddles a marker (those due were just run)
                size = min(size, self._markers[0][0] - self._sent)
            if size <= 0:
                continue
            if not self._speaking:
                await self._set_speaking(True)
                last_tick = ListenerClock.now()
            chunk = bytes(self._pcm[:size])
            del self._pcm[:size]
            self._inflight.append((*self._clock.hand_over(size), size))
            self._sent += size
            self._room.set()
            assert self._sink is not None  # the player runs between start() and aclose()
            await self._sink.write(chunk)
            if ListenerClock.now() - last_tick >= interval:
                last_tick = ListenerClock.now()
                await self._listener.on_speaking_tick()

    async def _run_due_markers(self) -> None:
        while self._markers and self._markers[0][0] <= self._sent:
            _, callback = self._markers.popleft()
            await callback()

    async def _wait_for_full_chunk(self, timeout: float) -> None:
        """Wait (at most until the listener runs dry) for the rest of a chunk: chunks stay whole."""
        try:
            async with asyncio.timeout(timeout):
                while len(self._pcm) < self._step and not self._response_done and self._pcm:
                    self._data_ready.clear()
                    await self._data_ready.wait()
        except TimeoutError:
            pass

    async def _wait_for_audio(self) -> None:
        """Wait for audio; once what was handed over was heard, the bot stopped (answer over, or dry)."""
        self._data_ready.clear()
        remaining = self._clock.remaining()
        if remaining > 0:
            try:
                async with asyncio.timeout(remaining):
                    await self._data_ready.wait()
                    return  # more audio before the listener ran out: keep playing
            except TimeoutError:
                pass
        self._retire()
        self._drained.set()
        if self._speaking and self._response_done:
            await self._set_speaking(False)
        try:
            async with asyncio.timeout(self.params.stop_grace_ms / 1000 if self._speaking else None):
                await self._data_ready.wait()
        except TimeoutError:
            await self._set_speaking(False)

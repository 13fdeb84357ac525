"""The ordered frames the realtime service sends downstream, pushed by a task of their own.

Why a queue: a server sends an answer's audio faster than it is played, and the pipeline's lanes are
bounded (an output holds a few frames behind its playout buffer; see
:mod:`voxpipe.processors.frame_processor`). If the task that reads the server's events pushed the audio
itself, it would wait on playout, and a ``speech_started``, an error or a function call read after the
audio would be handled only once that audio had played: the bot would hear the user seconds late. So the
reader puts every ordered frame it makes for downstream here and goes back to reading; the pump task
(:meth:`DownstreamQueue.run`) pushes them, in order, at the pace the pipeline takes them.

Bounded: at most ``max_audio_ms`` of audio and ``max_frames`` frames wait here. Past that, :meth:`put`
waits (the reader stops reading until the listener catches up), so memory does not grow with an answer
that arrives faster than real time. The bound is the read-ahead: a server that runs further ahead of the
listener than that is read at the pace of playback.

Interruption: :meth:`drop_audio` drops the queued audio (the user talked over it); the other frames (the
answer's start and end, its text) still go, so the frames downstream stay balanced.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from voxpipe.frames.audio import TTSAudioRawFrame
from voxpipe.frames.base import Frame
from voxpipe.processors.frame_processor import accept_backpressure

__all__ = ["DEFAULT_MAX_QUEUED_AUDIO_MS", "MAX_QUEUED_FRAMES", "DownstreamQueue"]

DEFAULT_MAX_QUEUED_AUDIO_MS = 30_000
"""How far ahead of playback the service reads an answer's audio by default (about 1.4 MB at 24 kHz)."""

MAX_QUEUED_FRAMES = 4096
"""Most frames of any kind that wait (text deltas have no duration, but they take memory too)."""


class DownstreamQueue:
    """A bounded FIFO of frames going downstream, and the pump that pushes them. See the module docstring.

    Args:
        push: pushes one frame downstream (waits while the next processor's lane is full).
        max_audio_ms: most audio (``TTSAudioRawFrame`` duration) waiting here.
        max_frames: most frames waiting here.
    """

    def __init__(
        self,
        push: Callable[[Frame], Awaitable[None]],
        *,
        max_audio_ms: int = DEFAULT_MAX_QUEUED_AUDIO_MS,
        max_frames: int = MAX_QUEUED_FRAMES,
    ) -> None:
        self._push = push
        self.max_audio_ms = max_audio_ms
        self.max_frames = max_frames
        self._frames: deque[Frame] = deque()
        self._audio_ms = 0.0
        self._in_hand: Frame | None = None
        self._changed = asyncio.Event()  # a frame came in, or room was made
        self.most_audio_ms = 0.0
        """The most audio that ever waited here (for tests and benchmarks)."""
        self.dropped_audio_ms = 0.0
        """Audio dropped by interruptions, in all."""

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def audio_ms(self) -> float:
        """Milliseconds of audio waiting."""
        return self._audio_ms

    @property
    def pushing_audio(self) -> bool:
        """Whether the pump holds an audio frame it has not handed over yet (it waits for room)."""
        return isinstance(self._in_hand, TTSAudioRawFrame)

    @property
    def idle(self) -> bool:
        """Nothing waits here and the pump holds nothing."""
        return not self._frames and self._in_hand is None

    def _full_for(self, frame: Frame) -> bool:
        if len(self._frames) >= self.max_frames:
            return True
        return isinstance(frame, TTSAudioRawFrame) and self._audio_ms >= self.max_audio_ms

    async def put(self, frame: Frame) -> None:
        """Queue a frame; wait while the queue is full for it. Cancelling the wait is safe (not queued)."""
        while self._full_for(frame):
            self._changed.clear()
            await self._changed.wait()
        self._frames.append(frame)
        if isinstance(frame, TTSAudioRawFrame):
            self._audio_ms += frame.duration_ms
            self.most_audio_ms = max(self.most_audio_ms, self._audio_ms)
        self._changed.set()

    def drop_audio(self) -> int:
        """Drop every queued audio frame (not the one in the pump's hand); returns how many."""
        kept = [frame for frame in self._frames if not isinstance(frame, TTSAudioRawFrame)]
        dropped = len(self._frames) - len(kept)
        self.dropped_audio_ms += self._audio_ms
        self._frames.clear()
        self._frames.extend(kept)
        self._audio_ms = 0.0
        self._changed.set()
        return dropped

    def clear(self) -> None:
        """Drop everything queued (the run is cancelled)."""
        self._frames.clear()
        self._audio_ms = 0.0
        self._changed.set()

    async def wait_idle(self) -> None:
        """Wait until every queued frame was handed downstream."""
        while not self.idle:
            self._changed.clear()
            await self._changed.wait()

    async def run(self) -> None:
        """The pump: push queued frames downstream in order, each once the pipeline has room for it.

        Cancelling it is safe; the frame in its hand is lost (the service cancels it only to drop that
        frame, an interrupted answer's audio).
        """
        accept_backpressure()
        frames = self._frames
        try:
            while True:
                while not frames:
                    self._changed.clear()
                    await self._changed.wait()
                frame = self._in_hand = frames.popleft()
                if isinstance(frame, TTSAudioRawFrame):
                    self._audio_ms = max(0.0, self._audio_ms - frame.duration_ms)
                self._changed.set()
                await self._push(frame)
                self._in_hand = None
                if not frames:
                    self._changed.set()  # idle now
        finally:
            self._in_hand = None

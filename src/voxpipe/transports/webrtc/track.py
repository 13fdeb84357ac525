"""``PlayoutTrack``: the bot's voice as an outgoing WebRTC audio track (aiortc ``MediaStreamTrack``).

aiortc's sender asks the track for one frame at a time (``recv``) and sends it at once, so the track keeps
the RTP clock: each 20 ms frame is handed over when its time comes, from a small queue the playout engine
fills a few chunks ahead, and silence when the queue is empty (a WebRTC audio track never stops; the
browser's jitter buffer expects a steady stream). :meth:`PlayoutTrack.clear` drops what is queued when
the user interrupts, so at most the engine's lead is heard after an interruption.
"""

from __future__ import annotations

import asyncio
import fractions
from collections import deque
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

__all__ = ["PTIME_S", "WEBRTC_RATE", "PlayoutTrack"]

WEBRTC_RATE = 48000
"""Opus runs at 48 kHz: audio is handed to aiortc at that rate, so it never resamples."""

PTIME_S = 0.02
"""Each RTP packet carries 20 ms of audio."""

_SAMPLES = int(WEBRTC_RATE * PTIME_S)
_CHUNK_BYTES = _SAMPLES * 2
_MAX_QUEUED = 50
"""Most chunks kept (1 s); the engine keeps far fewer in flight. Older chunks are dropped past it."""


class PlayoutTrack(MediaStreamTrack):
    """An audio track of mono 16-bit PCM at 48 kHz, fed by :meth:`push`, paced by its own clock."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[bytes] = deque()
        self._start: float | None = None
        self._timestamp = 0
        self.chunks_sent = 0
        self.audio_chunks_sent = 0

    @property
    def queued_ms(self) -> int:
        """Audio waiting to be sent, in milliseconds."""
        return len(self._queue) * int(PTIME_S * 1000)

    def push(self, pcm: bytes) -> None:
        """Queue mono PCM16 at 48 kHz; a last piece shorter than 20 ms is padded with silence."""
        for offset in range(0, len(pcm), _CHUNK_BYTES):
            chunk = pcm[offset : offset + _CHUNK_BYTES]
            if len(chunk) < _CHUNK_BYTES:
                chunk += bytes(_CHUNK_BYTES - len(chunk))
            self._queue.append(chunk)
        while len(self._queue) > _MAX_QUEUED:
            self._queue.popleft()

    def clear(self) -> None:
        """Drop the queued audio (the user interrupted the bot)."""
        self._queue.clear()

    async def recv(self) -> Any:
        """The next 20 ms frame, at its time: queued audio, or silence.

        Raises:
            MediaStreamError: the track was stopped (aiortc's sender then ends).
        """
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            self._timestamp += _SAMPLES
            wait = self._start + self._timestamp / WEBRTC_RATE - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -0.2:  # the loop stalled: start the clock again rather than burst to catch up
                self._start = loop.time() - self._timestamp / WEBRTC_RATE
        if self._queue:
            data = self._queue.popleft()
            self.audio_chunks_sent += 1
        else:
            data = bytes(_CHUNK_BYTES)
        self.chunks_sent += 1
        return _audio_frame(data, self._timestamp)


def _audio_frame(pcm: bytes, pts: int) -> Any:
    import av

    frame = av.AudioFrame(format="s16", layout="mono", samples=_SAMPLES)
    frame.planes[0].update(pcm)
    frame.sample_rate = WEBRTC_RATE
    frame.pts = pts
    frame.time_base = fractions.Fraction(1, WEBRTC_RATE)
    return frame

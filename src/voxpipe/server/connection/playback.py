"""How much of an answer its listener still has to hear: the server's estimate of the client's playback.

The scheduler (``voxpipe.server.scheduling``) serves an answer's later work before its listener runs out
of audio, so it needs to know how much is queued ahead of the listener. The server does not see the
client play; it assumes the client plays an answer's audio from its first delta on, in real time, and
waits (a gap, a stall) when the next delta comes after the audio before it ran out: the same rule
``bench/voice_latency.py`` uses to count stalls. Text the LLM has made and cut into pieces for the TTS,
not synthesized yet, counts as the speech it will become (``SECONDS_PER_CHAR``); text not cut into a
piece yet does not, since the listener hears nothing of it until its piece is complete.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["SECONDS_PER_CHAR", "Playback"]

#: Speech per character of text: Piper's voice speaks about 15 characters a second at speed 1.
SECONDS_PER_CHAR = 1 / 15


class Playback:
    """One answer's audio as its listener hears it (one event loop updates and reads it).

    Args:
        clock: seconds (``time.monotonic``, the clock the scheduler uses; tests pass their own).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: float | None = None  # when the audio sent so far ends on the listener's clock
        self._text_chars = 0  # characters of pieces handed to the TTS and not synthesized yet
        self._pieces = 0  # pieces handed to the TTS so far

    @property
    def pieces(self) -> int:
        """Pieces of the answer handed to the TTS so far (the first one ends the answer's head)."""
        return self._pieces

    @property
    def started(self) -> bool:
        """Whether the listener has heard (been sent) audio of this answer."""
        return self._until is not None

    def audio_sent(self, seconds: float) -> None:
        """``seconds`` of audio went to the client: played after the audio before it, or now after a gap."""
        now = self._clock()
        start = now if self._until is None or self._until < now else self._until
        self._until = start + seconds

    def text_queued(self, chars: int) -> None:
        """A piece of ``chars`` characters was handed to the TTS."""
        self._text_chars += chars
        self._pieces += 1

    def text_spoken(self, chars: int) -> None:
        """A piece of ``chars`` characters was synthesized (its audio is counted as it is sent)."""
        self._text_chars = max(0, self._text_chars - chars)

    def audio_ahead(self) -> float:
        """Seconds of audio sent that the listener has not heard yet."""
        if self._until is None:
            return 0.0
        return max(0.0, self._until - self._clock())

    def speech_ahead(self) -> float:
        """``audio_ahead`` plus the speech of the pieces waiting for the TTS."""
        return self.audio_ahead() + self._text_chars * SECONDS_PER_CHAR

    def runs_out_at(self, speech: bool = False) -> float:
        """When the listener hears silence unless more comes: the end of the audio sent (in the past when
        it already ran out: the silence began then; now, before any audio), with ``speech`` plus the
        pieces waiting for the TTS."""
        end = self._clock() if self._until is None else self._until
        return end + (self._text_chars * SECONDS_PER_CHAR if speech else 0.0)

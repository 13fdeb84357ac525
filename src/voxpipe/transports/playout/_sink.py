"""``AudioSink``: where a playout engine writes the bot's audio, one paced chunk at a time.

A sink is the only part an output transport has to write: the engine (:class:`Playout`) owns the clock,
the buffer, the played position, interruptions and the bot's speaking announcements. A sink only puts
chunks where a listener hears them (a WAV file, a socket, a sound card, an RTP track).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

__all__ = ["AudioSink"]


class AudioSink(ABC):
    """Receives the bot's audio from a :class:`Playout`, at the speed of speech.

    Every chunk is mono 16-bit little-endian PCM at the engine's sample rate, at most one chunk long
    (``PlayoutParams.chunk_ms``; the last chunk of an answer may be shorter). The engine calls the
    methods from one task at a time, never concurrently.

    Subclasses implement :meth:`write`; :meth:`clear` and :meth:`aclose` are optional.
    """

    @abstractmethod
    async def write(self, pcm: bytes) -> None:
        """Play ``pcm`` now: the listener hears it after what was written before.

        The engine calls it ``PlayoutParams.lead_ms`` before the listener needs the chunk. It should not
        block longer than a chunk's duration (a sink that must wait for a device does so here; the engine
        keeps its clock from the listener's side, so a late write delays the listener, it is never lost).
        """

    async def clear(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """The user interrupted: drop what the listener has buffered but not heard yet (Twilio's ``clear``).

        Called after the engine dropped its own unplayed audio; a sink without a buffer of its own has
        nothing to do.
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release what the sink holds (close the file, the stream). Called once, when the output stops;
        must be safe to call again."""

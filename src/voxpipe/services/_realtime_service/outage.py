"""What a realtime service keeps while its link is down, so the call carries on once it is back.

A lost link (a drop, an expiry, a close the client comes back from) ends a *server session*: the next
connection is a new session with an empty conversation. Between the two the service must

* close the answer that was in flight (balanced frames, so the aggregators and the output settle),
* remember what the new session needs: the history (replayed as items), the partial answer the user
  heard (the assistant aggregator may not have committed it yet), and whether an answer is still owed
  (items created while down are already queued in the client, and are not replayed twice),
* hold the microphone audio captured while down, up to a bound, and send it once the session is back;
* send the new session the user's audio the dead one took with it (:class:`SentAudio`): the words the
  user had begun when the link died, or a turn it had committed and not yet answered.

The client reports a lost link in its event stream (``ConnectionLost``) before it reconnects, and runs the
``on_connected`` hook of the new connection concurrently with the service reading that stream: the hook
waits (:meth:`Outage.wait_handled`) until the service has handled every loss before it, so the replay
sees the history as the loss left it.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections import deque
from dataclasses import dataclass, field, replace

__all__ = [
    "DEFAULT_HELD_AUDIO_MS",
    "END_OF_TURN_MARGIN_MS",
    "MAX_UNTAKEN_TURNS",
    "QUIET_RESEND_MS",
    "Outage",
    "SentAudio",
]

logger = logging.getLogger(__name__)

DEFAULT_HELD_AUDIO_MS = 5000
"""Microphone audio kept while the link is down (the oldest goes first when there is more)."""

QUIET_RESEND_MS = 1000
"""Of the dead session's uncommitted audio, what a new session gets when the user was not heard speaking.

A server hears speech a moment before it says so: its VAD needs a few frames to decide, keeps
``prefix_padding_ms`` (300 ms by default) before the start, and its ``speech_started`` takes a network
trip. So the last second may hold the start of words no event told of yet; older audio is silence the
server would have dropped. (While the user is heard speaking, all of it goes: the turn so far.)"""

END_OF_TURN_MARGIN_MS = 100
"""Audio right after a taken turn's ``audio_end_ms`` that goes with it (never to a new session).

The server's VAD judged it silence (it ends a turn only after ``silence_duration_ms`` of it), but the last
few ms of the words ring on past the end it reports (resamplers on both sides, 10-30 ms VAD frames): sent
alone to a new session, that tail starts a turn of its own."""


@dataclass
class Outage:
    """The service's memory of lost links.

    Attributes:
        max_held_ms: most audio held while down.
        held_ms: audio held now.
        dropped_ms: audio dropped because the bound was reached (over the service's life).
        resent_ms: audio held and then sent on a new session (over the service's life).
        losses: lost links handled so far.
        cut_answer: the text of an answer cut by the loss (replayed as an assistant message unless
            the context already holds it).
        owed_response: a response was requested and nothing of it was heard: ask again once back.
        unheard: the audio the dead session's buffer held, to send to the new one (see
            :class:`SentAudio`); taken by the replay.
        unheard_resent_ms: audio sent again that way (over the service's life).
    """

    max_held_ms: float = DEFAULT_HELD_AUDIO_MS
    held_ms: float = 0.0
    dropped_ms: float = 0.0
    resent_ms: float = 0.0
    losses: int = 0
    cut_answer: str = ""
    owed_response: bool = False
    unheard: list[str] = field(default_factory=list)
    unheard_resent_ms: float = 0.0
    recommit_ms: float | None = None
    """``unheard`` holds a turn we had committed (no turn detection) and that was not taken: the new
    session must commit it again, this long (what follows ``unheard`` on the new buffer is the next turn)."""
    _held: deque[tuple[str, float]] = field(default_factory=deque)
    _handled: asyncio.Event = field(default_factory=asyncio.Event)

    def hold(self, chunk: str, ms: float) -> None:
        """Keep an encoded audio chunk captured while down, dropping the oldest past the bound."""
        self._held.append((chunk, ms))
        self.held_ms += ms
        while self.held_ms > self.max_held_ms and self._held:
            _, old = self._held.popleft()
            self.held_ms -= old
            self.dropped_ms += old

    def take_held(self) -> list[str]:
        """The held chunks, oldest first; the store is emptied."""
        chunks = [chunk for chunk, _ in self._held]
        self.resent_ms += self.held_ms
        self._held.clear()
        self.held_ms = 0.0
        return chunks

    def handled(self) -> None:
        """The service handled one more lost link."""
        self.losses += 1
        self._handled.set()

    async def wait_handled(self, connection: int) -> None:
        """Wait until every loss before ``connection`` (1-based) was handled by the service."""
        while self.losses < connection - 1:
            self._handled.clear()
            await self._handled.wait()


MAX_UNTAKEN_TURNS = 8
"""Turns ended and not yet taken that are remembered. A session that neither answers nor transcribes its
turns by itself (``create_response`` off, no transcription) takes none until the application asks for an
answer; past this many the oldest is taken, so the memory stays bounded."""


@dataclass(frozen=True, slots=True)
class _Stop:
    """A turn ended on the session's buffer and not yet taken (see :class:`SentAudio`).

    Attributes:
        end_ms: where it ended: a ``speech_stopped``'s ``audio_end_ms``, or the buffer's end at our commit.
        answered: its answer has started.
        ours: we committed it (no turn detection): a new session must be told to commit it again.
    """

    end_ms: float | None
    answered: bool = False
    ours: bool = False


@dataclass
class SentAudio:
    """The user's audio a lost session takes with it: its buffer, and a turn committed and not yet taken.

    Appends handed to the session client are kept, with their place on the session's buffer, until the
    turn they carry is safe (server VAD: up to the ``audio_end_ms`` of its ``speech_stopped``, once its
    transcript came or its answer was heard to the end; without transcription, once its answer started;
    without turn detection the same, from our own commit on). A turn committed on a session that dies
    before that is lost with it, so the new session must hear it again (and, for a commit of ours, be
    told to commit it): that includes a turn whose answer had started
    but whose words had not come back (a server that transcribes after it answers, as OpenAI's often
    does): the replayed history would hold the cut answer without the question. A lost link ends the
    server session and its buffer: the appends it had got are gone, the ones still queued in the client
    go to the next session. :meth:`for_new_session` picks what the new session must get again: the whole
    uncommitted turn while the user is speaking (or stopped and not yet answered), else the last
    :data:`QUIET_RESEND_MS`. At most ``max_ms`` is kept (the oldest goes first).

    Args:
        max_ms: most audio kept (0: none, nothing is sent again).
    """

    max_ms: float
    _chunks: deque[tuple[str, float, float]] = field(default_factory=deque)  # chunk, start, ms
    _end_ms: float = 0.0  # the buffer position after the last append, on this session
    _stops: deque[_Stop] = field(default_factory=deque)  # the turns ended and not yet taken, oldest first
    kept_ms: float = 0.0
    """Audio kept now."""

    def sent(self, chunk: str, ms: float) -> None:
        """An append went to the session client."""
        self._chunks.append((chunk, self._end_ms, ms))
        self._end_ms += ms
        self.kept_ms += ms
        while self._chunks and self.kept_ms > self.max_ms:
            self.kept_ms -= self._chunks.popleft()[2]

    def speech_stopped(self, audio_end_ms: float | None) -> None:
        """The server's VAD ended a turn at ``audio_end_ms``; its commit of the audio before follows."""
        self._add_stop(_Stop(audio_end_ms))

    def _add_stop(self, stop: _Stop) -> None:
        """Queue a turn ended; past ``MAX_UNTAKEN_TURNS`` the oldest is taken (its audio dropped)."""
        self._stops.append(stop)
        while len(self._stops) > MAX_UNTAKEN_TURNS:
            self.turn_taken()

    @property
    def answered_unheard(self) -> bool:
        """A turn's answer started, and the turn's words have not come back yet."""
        return any(stop.answered for stop in self._stops)

    @property
    def commit_untaken(self) -> bool:
        """A commit of ours is not yet taken: a new session that hears its audio again must commit it."""
        return any(stop.ours for stop in self._stops)

    def answer_started(self, *, transcribed: bool) -> None:
        """An answer started: to the oldest turn not yet answered. Without transcription (``transcribed``
        False) its words never come back, so the turn is taken now; with it, it waits for them."""
        if not transcribed:
            self.turn_taken()
            return
        for index, stop in enumerate(self._stops):
            if not stop.answered:
                self._stops[index] = replace(stop, answered=True)
                return

    def answer_heard(self) -> None:
        """An answer was heard to its end: its turn is taken even if its words never come back (sending
        the question again would have it answered twice)."""
        if self._stops and self._stops[0].answered:
            self.turn_taken()

    def turn_taken(self) -> None:
        """The oldest turn the server's VAD ended is safe (see the class docstring): its audio is dropped."""
        if not self._stops:
            return
        taken = self._stops.popleft()
        if taken.end_ms is None:
            return  # a VAD turn with no end: nothing to cut by
        stop = taken.end_ms if taken.ours else taken.end_ms + END_OF_TURN_MARGIN_MS
        while self._chunks and self._chunks[0][1] + self._chunks[0][2] <= stop:
            self.kept_ms -= self._chunks.popleft()[2]
        if self._chunks and self._chunks[0][1] < stop:  # the append the turn ended in: keep what follows
            chunk, start, ms = self._chunks.popleft()
            rest, rest_ms = _cut_front(chunk, ms, stop - start)
            self._chunks.appendleft((rest, stop, rest_ms))
            self.kept_ms -= ms - rest_ms

    def commit_sent(self, end_ms: float | None = None) -> None:
        """We committed the buffer (no turn detection): everything appended so far (or up to ``end_ms``) is
        in the commit, kept until the commit is taken like a VAD turn."""
        self._add_stop(_Stop(self._end_ms if end_ms is None else end_ms, ours=True))

    def forget(self) -> None:
        """Keep nothing of what was sent so far (committed, or of an input format no longer used)."""
        self._chunks.clear()
        self.kept_ms = 0.0
        self._stops.clear()

    def told_turn_end_ms(self) -> float | None:
        """Where the last turn the server's VAD ended and that is not taken yet ends, counted from the first
        audio kept: on the buffer of the new session :meth:`for_new_session` gives that audio to, the end of
        a turn the pipeline was already told ended (ask before it: it forgets the turns). None: no such
        turn, or none of its audio is kept."""
        ends = [stop.end_ms for stop in self._stops if stop.end_ms is not None and not stop.ours]
        if not ends or not self._chunks:
            return None
        end = max(ends) - self._chunks[0][1]
        return end if end > 0 else None

    def for_new_session(self, still_queued: int, speaking: bool) -> tuple[list[str], float]:
        """The link died: what the new session must get again, and how long it is.

        Args:
            still_queued: appends still queued in the session client (the newest ones): they go to the
                new session on their own.
            speaking: a turn of the user's is open (all of its audio goes, not just the last moments).

        The kept audio becomes the new session's buffer: what is sent again, then what is still queued.
        A turn ended and not yet taken goes whole too.
        """
        chunks = list(self._chunks)
        split = max(0, len(chunks) - still_queued)
        handed, queued = chunks[:split], chunks[split:]
        if not speaking and not self._stops:
            end = self._end_ms
            handed = [c for c in handed if c[1] + c[2] > end - QUIET_RESEND_MS]
        self.forget()
        self._end_ms = 0.0
        for chunk, _, ms in handed + queued:
            self.sent(chunk, ms)
        return [chunk for chunk, _, _ in handed], sum(ms for _, _, ms in handed)


def _cut_front(chunk: str, ms: float, cut_ms: float) -> tuple[str, float]:
    """A base64 audio chunk of ``ms`` without its first ``cut_ms`` (cut on a 2-byte boundary: a PCM16
    sample, or two G.711 ones); returns the rest and its duration."""
    raw = base64.b64decode(chunk)
    cut = min(len(raw), int(len(raw) * cut_ms / ms) // 2 * 2)
    rest = raw[cut:]
    return base64.b64encode(rest).decode("ascii"), ms * len(rest) / len(raw) if raw else 0.0

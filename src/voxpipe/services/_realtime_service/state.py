"""Small pieces of session state the realtime service keeps: the answer being played, pending retrievals."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from voxpipe.errors import OperationTimeoutError, ServerError
from voxpipe.realtime import ConversationItemRetrieveEvent, new_event_id

__all__ = [
    "SILENT_TURN_MS",
    "AnswerAudio",
    "FinishedOutput",
    "ItemNotFoundError",
    "Listening",
    "PendingRetrievals",
    "RepeatedEvents",
    "UserTurn",
]

logger = logging.getLogger(__name__)


class ItemNotFoundError(ServerError):
    """The server has no conversation item with the id that was asked for."""


@dataclass
class AnswerAudio:
    """What the current (or last) answer has sent so far: the numbers an interruption truncates by.

    Attributes:
        response_id: the response being tracked.
        item_id: the assistant item whose audio is playing.
        received_ms: audio received per item, in ms (a truncate is clamped to it).
        first_audio_at: loop time the first audio of the answer was pushed.
        audio_started: a TTSStartedFrame was pushed and no TTSStoppedFrame yet.
        text_started: text of the answer has arrived.
        truncated: the item was already truncated (or deleted) after an interruption.
        function_calls: function calls the answer asked for.
        text_parts: the answer's text (or audio transcript) so far.
        had_audio: audio of this answer arrived.
    """

    response_id: str | None = None
    item_id: str | None = None
    received_ms: dict[str, float] = field(default_factory=dict)
    first_audio_at: float | None = None
    audio_started: bool = False
    text_started: bool = False
    truncated: bool = False
    function_calls: int = 0
    text_parts: list[str] = field(default_factory=list)
    had_audio: bool = False

    @property
    def open(self) -> bool:
        """A response started (``response.created``) and has not ended."""
        return self.response_id is not None

    @property
    def heard(self) -> bool:
        """Something of the answer reached the pipeline: text, audio or a function call."""
        return bool(self.text_parts) or self.had_audio or self.function_calls > 0

    def begin(self, response_id: str | None) -> None:
        """A new response starts: forget the text state (audio of the last answer may still play)."""
        self.response_id = response_id
        self.text_started = False
        self.function_calls = 0
        self.text_parts = []
        self.had_audio = False

    def start_audio(self, item_id: str, now: float) -> None:
        """The first audio of an answer arrives."""
        self.audio_started = True
        self.had_audio = True
        self.item_id = item_id
        self.first_audio_at = now
        self.truncated = False

    def add_audio(self, item_id: str, ms: float) -> None:
        """More audio of ``item_id`` arrived."""
        self.received_ms[item_id] = self.received_ms.get(item_id, 0.0) + ms

    def stop_audio(self) -> bool:
        """The answer's audio ended; returns whether it had started (so a TTSStoppedFrame is due)."""
        started, self.audio_started = self.audio_started, False
        return started

    def finish(self) -> None:
        """``response.done``: the response is over (its audio may still be playing downstream)."""
        self.response_id = None

    def played_estimate_ms(self, now: float) -> int:
        """Without a report from the output: the wall-clock time since the first audio, clamped."""
        if self.item_id is None or self.first_audio_at is None:
            return 0
        elapsed = (now - self.first_audio_at) * 1000
        return int(min(elapsed, self.received_ms.get(self.item_id, 0.0)))

    def clamp_ms(self, position_ms: int) -> int:
        """A playback position clamped to the audio the server actually sent for the item."""
        if self.item_id is None:
            return 0
        return int(max(0, min(position_ms, self.received_ms.get(self.item_id, 0.0))))


class Listening(enum.Enum):
    """Where the user is in a turn, as the service last heard."""

    QUIET = "quiet"
    """No turn of the user's is open (or its answer has started)."""
    SPEAKING = "speaking"
    """The user is speaking: the server's input buffer holds their words, uncommitted."""
    ENDED = "ended"
    """The user stopped; the turn is being committed and its answer has not started yet."""


SILENT_TURN_MS = 10_000
"""Quiet after a server's ``speech_started`` past which that turn no longer holds a rotation (see
:class:`UserTurn`), in ms: of near-silent input audio sent, or of wall-clock time without input audio
louder than near-silence (the input paused, muted or stopped: nothing sent at all).

A working server VAD ends a turn after less silence than this: ``server_vad`` after its
``silence_duration_ms`` (500 ms by default), ``semantic_vad`` after at most 8 s (OpenAI's documented
timeouts, and ``voxpipe serve``'s: 8 s at eagerness ``low``, 4 s at ``medium``/``auto``, 2 s at ``high``),
and near-silence (``NEAR_SILENCE_DBFS``) is below the level VADs take for speech. A turn still open after
this much of it is one the server will not end: its VAD is stuck, takes the quiet for speech, or its
``speech_stopped`` was lost. Counted both ways, whichever reaches it first:

* in audio sent, as a server VAD counts its own window (audio sent faster than real time, a file, ends the
  count sooner in wall time);
* in wall-clock time since the last audio louder than near-silence was sent (or since ``speech_started``):
  when the pipeline sends no audio (``set_audio_input_paused(True)``, a muted or stopped microphone, a
  transport that sends nothing in silence) a server VAD counts nothing and never ends the turn, so the
  clock bounds it. While audio flows in real time the two counts agree; audio that comes slower than real
  time (a loaded machine) ends the count at this much wall time, when a working VAD has had most of it.

So a stuck turn holds the rotation at most this long after the user was last heard louder than
near-silence. A ``server_vad`` set to a ``silence_duration_ms`` over this is not told apart from a stuck
one."""


@dataclass
class UserTurn:
    """The user's side of the conversation, so the service never starts a fresh session under them.

    A rotation ends the server session, and its input buffer with it: under a user who is speaking it
    would cut their words in two, and between the end of their words and the answer's start it would lose
    the turn being committed. The service rotates only while the user is :attr:`Listening.QUIET`, or
    ``settle_s`` after their turn ended when no answer started (a session that does not answer on its own),
    or once a turn the server's VAD opened has gone silent: ``SILENT_TURN_MS`` of quiet since its
    ``speech_started`` (near-silent audio sent, or wall-clock time with no louder audio sent: the input
    paused or stopped) and no ``speech_stopped`` came. A server that has not ended such a turn will not (see
    ``SILENT_TURN_MS``), and without this it would hold the session until its own time limit cuts it. A
    user who goes on speaking keeps the turn open however long it lasts, and a turn the pipeline opened
    (``UserStartedSpeakingFrame`` without turn detection, push-to-talk) is open until the pipeline ends it,
    silent or not.

    It also keeps what the pipeline was told: each ``UserStartedSpeakingFrame`` the service made of a
    server's ``speech_started`` is owed one ``UserStoppedSpeakingFrame`` (:attr:`stop_owed`): the server's
    ``speech_stopped``, or, when the service lets a turn that went silent go with its session (the new
    session does not hear it again, so no ``speech_stopped`` will ever come), one the service makes; with
    no age rotation to let it go, the service makes that one once the turn has gone silent.
    :meth:`take_stop` pays it once: a ``speech_stopped`` after that is not told twice.

    A lost session does not end what the pipeline was told: the new session hears again the audio the old
    one took with it (see :class:`~voxpipe.services._realtime_service.outage.SentAudio`), and its VAD says
    ``speech_started`` of words the pipeline already knows of. :meth:`started` tells apart a start to tell
    from one that is not: while a start is owed its stop (a turn that goes on across the loss, kept open by
    :meth:`carried_over`) another start is the same turn, and a start within the audio of a turn the
    pipeline was told ended (:attr:`reheard_until_ms`) is that turn heard again: neither is a new turn for
    the pipeline, and the ``speech_stopped`` of the second is not told either (no stop is owed for it).

    The audio is counted by the input encoder (``sent_ms``, and ``quiet_ms`` at its end): see
    :class:`~voxpipe.services._realtime_service.audio.InputAudioEncoder`; the service reports when it
    sends audio louder than near-silence (:meth:`heard_loud`).

    Attributes:
        state: where the user is.
        ended_at: loop time the user last stopped speaking.
        started_ms: the encoder's ``sent_ms`` when the server's VAD last said the user started (None for a
            turn the pipeline opened).
        started_at: loop time of that ``speech_started``.
        loud_at: loop time the service last sent audio louder than near-silence.
        stop_owed: the pipeline was told the user started speaking (a ``speech_started``) and not yet that
            they stopped. It outlives a lost session (see the service's ``_on_connection_lost``): the
            pipeline's view of the user goes on across sessions.
        silent_turn_ms: quiet that ends a server's turn for rotation (``SILENT_TURN_MS``).
        reheard_until_ms: after a lost session, where the audio of a turn the pipeline was told ended
            (sent to the new session again) ends on the new session's buffer; None: no such turn.
    """

    state: Listening = Listening.QUIET
    ended_at: float = 0.0
    started_ms: float | None = None
    started_at: float = 0.0
    loud_at: float = 0.0
    stop_owed: bool = False
    silent_turn_ms: float = SILENT_TURN_MS
    reheard_until_ms: float | None = None

    def _set(self, new: Listening) -> None:
        if new is not self.state:
            logger.debug("user turn: %s -> %s", self.state.value, new.value)
            self.state = new

    def started(
        self, at_ms: float | None = None, now: float = 0.0, audio_start_ms: float | None = None
    ) -> bool:
        """The user started speaking: the server's ``speech_started`` (``at_ms``: the audio sent so far;
        ``now``: the loop time; ``audio_start_ms``: the event's own, where on the session's buffer the
        speech starts), or the pipeline's own VAD (``at_ms`` None).

        Returns whether the pipeline is to be told (a ``UserStartedSpeakingFrame`` of the service's): not
        for the pipeline's own turn (its frame is the pipeline's), nor for a turn it knows of already (see
        the class docstring).
        """
        self.started_ms = at_ms
        self.started_at = now
        self._set(Listening.SPEAKING)
        if at_ms is None:
            return False
        reheard_until, self.reheard_until_ms = self.reheard_until_ms, None  # only the first start can be
        if self.stop_owed:
            return False  # the pipeline is in this turn already
        if reheard_until is not None and audio_start_ms is not None and audio_start_ms < reheard_until:
            return False  # a turn told ended, heard again by a new session
        self.stop_owed = True  # the service tells the pipeline
        return True

    def carried_over(self, holds_words: bool, reheard_until_ms: float | None = None) -> UserTurn:
        """The turn as a new session starts, after a lost one (``holds_words``: the old session's buffer
        held words of the turn, which go to the new one again; ``reheard_until_ms``: see the attribute).

        What the pipeline was told goes on. A turn it was told started (and not ended) that held words stays
        open: the new session hears it again (its ``speech_started`` is not told again, its
        ``speech_stopped`` ends it) or, if it never does, the turn goes silent and is given up like any
        other. Anything else starts quiet: the new session's VAD starts afresh.
        """
        if holds_words and self.stop_owed and self.state is Listening.SPEAKING:
            return replace(self, reheard_until_ms=reheard_until_ms)
        return UserTurn(
            stop_owed=self.stop_owed, silent_turn_ms=self.silent_turn_ms, reheard_until_ms=reheard_until_ms
        )

    def heard_loud(self, now: float) -> None:
        """Audio louder than near-silence went to the server at ``now`` (loop time)."""
        self.loud_at = now

    def stopped(self, now: float) -> None:
        """The user stopped speaking; the turn is being committed."""
        self.ended_at = now
        self._set(Listening.ENDED)

    def answered(self) -> None:
        """The answer started (or the turn was handed to the response tracker): the turn is closed."""
        self._set(Listening.QUIET)

    def take_stop(self) -> bool:
        """Whether the pipeline is owed a ``UserStoppedSpeakingFrame`` (it is then paid: False after)."""
        owed, self.stop_owed = self.stop_owed, False
        return owed

    def gone_silent(self, now: float, sent_ms: float, quiet_ms: float) -> bool:
        """Whether the server's open turn has had ``silent_turn_ms`` of quiet since it started: of
        near-silent audio sent, or of wall-clock time with no louder audio sent.

        Args:
            now: loop time.
            sent_ms: input audio sent so far (the encoder's count).
            quiet_ms: near-silent audio at the end of it.
        """
        if self.state is not Listening.SPEAKING or self.started_ms is None:
            return False
        if min(quiet_ms, sent_ms - self.started_ms) >= self.silent_turn_ms:
            return True
        return (now - max(self.started_at, self.loud_at)) * 1000 >= self.silent_turn_ms

    def holds_words(self, now: float, sent_ms: float, quiet_ms: float) -> bool:
        """Whether the server's input buffer may hold words of an open turn (all of its audio is worth
        sending again to a new session): the user is speaking and has not gone silent, or stopped and their
        turn was not answered yet."""
        return self.state is not Listening.QUIET and not self.gone_silent(now, sent_ms, quiet_ms)

    def settled(self, now: float, settle_s: float, sent_ms: float = 0.0, quiet_ms: float = 0.0) -> bool:
        """Whether no turn of the user's is open, so the server session can end without losing words."""
        if self.state is Listening.ENDED and now - self.ended_at >= settle_s:
            return True
        return self.state is Listening.QUIET or self.gone_silent(now, sent_ms, quiet_ms)


class RepeatedEvents:
    """Recent server event ids, to tell an event the server sent again from a new one.

    Every server event carries an ``event_id`` unique to it, so an event that comes with an id already
    handled is the same event again (a faulty server or proxy repeated it), never new content: an audio
    delta played twice would repeat a piece of the answer, a text delta would double the transcript.
    Content cannot tell: two deltas of silence are alike and both real, and the protocol gives audio
    deltas no offset. Events without an id are never taken for repeats.

    Args:
        window: how many recent ids are remembered (a repeat comes right after the original).
    """

    def __init__(self, window: int = 1024) -> None:
        self._window = window
        self._order: deque[str] = deque()
        self._seen: set[str] = set()
        self.repeats = 0
        """Events skipped as repeats."""

    def seen_before(self, event_id: str | None) -> bool:
        """Whether ``event_id`` was seen lately; remembers it if not."""
        if not event_id:
            return False
        if event_id in self._seen:
            self.repeats += 1
            return True
        self._seen.add(event_id)
        self._order.append(event_id)
        if len(self._order) > self._window:
            self._seen.discard(self._order.popleft())
        return False


class FinishedOutput:
    """Responses and audio parts that are over, to tell a replayed delta from new content.

    :class:`RepeatedEvents` catches an event sent again with its own ``event_id``; a server that sends an
    answer again after a reconnect (or a proxy that replays it) gives the copies fresh ids. The protocol
    gives a delta no offset, so within a part that is still open a copy cannot be told from the next
    chunk (two silent chunks are alike); but a part that is over can have no more: a delta for a part
    after its ``done`` (audio, text or transcript: the part's ``stream``), or any delta of a response
    after its end (``response.done``, or the lost link that ended it with its session), is a replay and
    is dropped.

    Args:
        window: how many finished responses and parts are remembered (replays come soon after).
    """

    def __init__(self, window: int = 64) -> None:
        self._window = window
        self._responses: deque[str] = deque()
        self._parts: deque[tuple[str, str, int]] = deque()
        self.replays = 0
        """Deltas dropped as replays."""

    @staticmethod
    def _remember(store: deque[Any], key: Any, window: int) -> None:
        if key not in store:
            store.append(key)
            if len(store) > window:
                store.popleft()

    def end_response(self, response_id: str | None) -> None:
        """A response is over: no delta of it can come any more."""
        if response_id:
            self._remember(self._responses, response_id, self._window)

    def end_part(self, stream: str, item_id: str | None, content_index: int | None) -> None:
        """A part's ``stream`` (``audio``, or ``text`` for text and transcripts) is over."""
        if item_id:
            self._remember(self._parts, (stream, item_id, content_index or 0), self._window)

    def replayed(
        self, stream: str, response_id: str | None, item_id: str | None, content_index: int | None
    ) -> bool:
        """Whether a delta of this response and part's ``stream`` comes after its end; counts it."""
        late = bool(response_id) and response_id in self._responses
        late = late or (bool(item_id) and (stream, item_id, content_index or 0) in self._parts)
        self.replays += late
        return late


class PendingRetrievals:
    """Futures waiting for ``conversation.item.retrieved``, keyed by item id and by the request's event id."""

    def __init__(self) -> None:
        self._by_item: dict[str, list[asyncio.Future[Any]]] = {}
        self._item_of_event: dict[str, str] = {}

    def add(self, item_id: str, event_id: str) -> asyncio.Future[Any]:
        """Register a retrieval: its future gets the item, or fails with :class:`ItemNotFoundError`."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._by_item.setdefault(item_id, []).append(future)
        self._item_of_event[event_id] = item_id
        return future

    def resolve(self, item_id: str, item: Any) -> None:
        """The server sent the item."""
        for future in self._by_item.pop(item_id, []):
            if not future.done():
                future.set_result(item)
        for event_id in [e for e, i in self._item_of_event.items() if i == item_id]:
            del self._item_of_event[event_id]

    def fail(self, event_id: str, message: str) -> bool:
        """The server answered the retrieval with an error; returns whether it was one of ours."""
        item_id = self._item_of_event.pop(event_id, None)
        if item_id is None:
            return False
        error = ItemNotFoundError(
            f"conversation item {item_id!r} could not be retrieved: {message}",
            code="item_retrieve_invalid_item_id",
            recoverable=True,
        )
        for future in self._by_item.pop(item_id, []):
            if not future.done():
                future.set_exception(error)
        return True

    async def retrieve(self, item_id: str, send: Callable[[Any], None], timeout: float, owner: object) -> Any:
        """Send a ``conversation.item.retrieve`` and await the item.

        Raises:
            ItemNotFoundError: the server has no such item.
            OperationTimeoutError: no answer within ``timeout`` seconds.
        """
        event_id = new_event_id()
        future = self.add(item_id, event_id)
        send(ConversationItemRetrieveEvent(item_id=item_id, event_id=event_id))
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise OperationTimeoutError(
                f"{owner}: no conversation.item.retrieved for {item_id!r} within {timeout} s", code="timeout"
            ) from None
        finally:
            self.discard(item_id, future)

    def discard(self, item_id: str, future: asyncio.Future[Any]) -> None:
        """Forget a retrieval that timed out or was cancelled."""
        futures = self._by_item.get(item_id)
        if futures and future in futures:
            futures.remove(future)
            if not futures:
                del self._by_item[item_id]

"""Preemptive generation: prepare the answer during the end-of-turn silence, release it when the turn ends.

Turn detection waits ``silence_duration_ms`` (or semantic VAD's longer wait) before it ends a turn; the
user has stopped talking and the server only waits to be sure. At a short pause inside that window
(``TurnEventType.PAUSED``), the session starts a ``Speculation``: it takes the transcript of the turn so
far (``STTStream.snapshot``), builds the LLM request the response would build if the turn ended now,
runs the LLM and the TTS of the answer's first piece, and keeps everything it makes to itself. Nothing
reaches the client, the conversation or the usage counts.

* The turn ends (``speech_stopped``): the response is created as always, with the speculation as its
  source (``response_source.ResponseSource``). If the request it builds from the final transcript equals
  the speculated one, the LLM chunks and the first piece's audio are replayed from what is ready (and
  what is still coming); the events, their order and the usage are exactly those of a response that ran
  the engines, only sooner. A different request (other words, a ``session.update`` in between) drops the
  speculation and runs the engines.
* The user speaks again first (``RESUMED``), commits or clears by hand, or the turn asks for no response:
  the speculation is cancelled and forgotten. A tool call it produced was only ever a chunk in its
  buffer, so a dropped speculation calls nothing, and a reused one emits the call once, as the response.
* Attempts are bounded per turn (``max_attempts``); the work is scheduled below confirmed answers
  (``scheduling.Priority.SPECULATIVE``) until it is claimed.

``SPECULATION_STATS`` counts, for the whole process, attempts, reuses and the work thrown away
(``bench/voice_latency.py`` prints them).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from voxpipe.server.connection.conversation import Item
from voxpipe.server.connection.playback import Playback
from voxpipe.server.connection.response_source import EngineSource, llm_request
from voxpipe.server.connection.settings import SessionSettings
from voxpipe.server.connection.speech_chunks import SpeechChunker
from voxpipe.server.connection.streams import closing
from voxpipe.server.engines.registry import Engines
from voxpipe.server.engines.types import LLMChunk, LLMItem, LLMMessage, LLMRequest, TextDelta, ToolCall, Usage

__all__ = ["SPECULATION_STATS", "Speculation", "SpeculationStats", "Speculator"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class SpeculationStats:
    """Process-wide counters (plain integers: one event loop updates them).

    Attributes:
        attempts: speculations started.
        reused: claimed by a response whose request matched.
        dropped: cancelled because the user went on, or the turn got no response.
        mismatched: claimed, but the final request differed (the response ran the engines).
        wasted_llm_tokens: output tokens (or text deltas, when cut before the usage) of dropped and
            mismatched speculations.
        wasted_tts_ms: audio synthesized for dropped and mismatched speculations.
    """

    attempts: int = 0
    reused: int = 0
    dropped: int = 0
    mismatched: int = 0
    wasted_llm_tokens: int = 0
    wasted_tts_ms: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return {name: getattr(self, name) for name in self.__slots__}


SPECULATION_STATS = SpeculationStats()


class SpeculationState(enum.Enum):
    """Where one speculation is."""

    RUNNING = "running"  # making output, held
    CLAIMED = "claimed"  # a response replays it
    DROPPED = "dropped"  # cancelled and forgotten


class _Buffer:
    """What a speculation made so far, and a way to wait for more."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.finished = False
        self.error: BaseException | None = None
        self._changed = asyncio.Event()

    def add(self, item: Any) -> None:
        self.items.append(item)
        self._changed.set()

    def end(self, error: BaseException | None = None) -> None:
        self.finished = True
        self.error = error
        self._changed.set()

    async def replay(self) -> AsyncIterator[Any]:
        """Everything added, then whatever comes, until the end (raising the producer's error)."""
        index = 0
        while True:
            while index < len(self.items):
                yield self.items[index]
                index += 1
            if self.finished:
                if self.error is not None:
                    raise self.error
                return
            self._changed.clear()
            await self._changed.wait()


class Speculation:
    """One speculative answer (see the module docstring); made and owned by ``Speculator``.

    Args:
        engines: the process's engines.
        settings: the session's settings at the pause (instructions, tools, voice ...).
        context: the conversation's items at the pause (later items belong to a later turn).
        transcript: returns the words of the turn so far, or None if they cannot be known yet.
    """

    def __init__(
        self,
        engines: Engines,
        settings: SessionSettings,
        context: Sequence[Item],
        transcript: Callable[[], Awaitable[str | None]],
    ) -> None:
        self.state = SpeculationState.RUNNING
        self.request: LLMRequest | None = None
        self._settings = settings
        self._context = context
        self._transcript = transcript
        self._engines = engines
        self.source = EngineSource(engines, engines.fair_share, speculative=True)
        self._known = asyncio.Event()  # set once ``request`` is built, or the speculation gave up
        self._chunks = _Buffer()
        self._first_piece: str | None = None
        self._audio = _Buffer()
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"Speculation({self.state.value})"

    async def run(self) -> None:
        """Make the answer into the buffers; cancelling stops it (buffers end as cancelled)."""
        self._task = asyncio.current_task()
        try:
            await self._produce()
        except asyncio.CancelledError:
            self._end(asyncio.CancelledError())
            raise
        except Exception as exc:  # an engine failed: a response that claims this fails as it would have
            logger.debug("speculation failed: %s", type(exc).__name__)
            self._end(exc)
        else:
            self._end(None)

    def _end(self, error: BaseException | None) -> None:
        self._known.set()
        if not self._chunks.finished:
            self._chunks.end(error)
        if not self._audio.finished:
            self._audio.end(error)

    async def _produce(self) -> None:
        words = await self._transcript()
        if not words:
            self._chunks.end()
            self._audio.end()
            return
        messages: list[LLMItem] = []
        for item in self._context:
            llm_item = await item.llm_item()
            if llm_item is not None:
                messages.append(llm_item)
        messages.append(LLMMessage("user", words))
        self.request = llm_request(self._settings, messages)
        self._known.set()
        speak = self._settings.audio_output
        chunker = SpeechChunker()
        async with asyncio.TaskGroup() as group:
            async for chunk in self.source.llm_stream(self.request):
                self._chunks.add(chunk)
                if not speak or self._first_piece is not None:
                    continue
                piece: str | None = None
                if isinstance(chunk, TextDelta):
                    piece = next(iter(chunker.push(chunk.text)), None)
                elif isinstance(chunk, ToolCall | Usage):
                    piece = chunker.rest() or None  # the message closes here; its rest is its first piece
                    if piece is None and isinstance(chunk, ToolCall):
                        speak = False  # a call before any words: nothing to say first
                if piece is not None:
                    self._first_piece = piece
                    self.source.first_piece_cut()
                    group.create_task(self._synthesize(piece), name="speculation first piece")
            self._chunks.end()
        if self._first_piece is None:
            self._audio.end()

    async def _synthesize(self, piece: str) -> None:
        settings = self._settings
        async for pcm in self.source.tts_stream(piece, settings.voice, settings.speed, first=True):
            self._audio.add(pcm)
        self._audio.end()

    async def matches(self, request: LLMRequest) -> bool:
        """Whether a response with ``request`` gets exactly what this speculation makes (waits until the
        speculation knows its own request: the transcript and context take a moment)."""
        await self._known.wait()
        return self.state is SpeculationState.RUNNING and self.request is not None and self.request == request

    def claim(self) -> None:
        """A response replays this from now on: its remaining work is a confirmed answer's."""
        self.state = SpeculationState.CLAIMED
        self.source.promote()

    def stop(self) -> None:
        """Cancel what is still being made (the claiming response stopped early)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def drop(self) -> None:
        """Cancel and forget (idempotent); counts what was thrown away."""
        if self.state is SpeculationState.DROPPED:
            return
        self.state = SpeculationState.DROPPED
        self.stop()
        SPECULATION_STATS.wasted_llm_tokens += self._tokens()
        rate = self._engines.tts.sample_rate
        SPECULATION_STATS.wasted_tts_ms += sum(len(pcm) for pcm in self._audio.items) * 1000 // (2 * rate)

    def _tokens(self) -> int:
        usage = next((c for c in self._chunks.items if isinstance(c, Usage)), None)
        if usage is not None:
            return usage.output_tokens
        return sum(1 for c in self._chunks.items if isinstance(c, TextDelta | ToolCall))

    async def replay_llm(self) -> AsyncIterator[LLMChunk]:
        """The LLM chunks, made and to come; closing it early cancels the rest of the work."""
        try:
            async for chunk in self._chunks.replay():
                yield chunk
        finally:
            if not self._chunks.finished:
                self.stop()

    def first_audio(self, text: str, voice: str, speed: float) -> AsyncIterator[bytes] | None:
        """The first piece's audio if ``text`` is that piece in the same voice and speed, else None."""
        if (
            self._first_piece is None
            or text != self._first_piece
            or voice != self._settings.voice
            or speed != self._settings.speed
        ):
            return None
        return self._audio.replay()


class _ClaimedSource:
    """The source of the response that ended a speculated turn (see ``Speculator.source_for_turn``)."""

    def __init__(self, speculator: Speculator, speculation: Speculation, engines: EngineSource) -> None:
        self._speculator = speculator
        self._speculation: Speculation | None = speculation
        self._engines = engines
        self._tts_from: Speculation | None = None

    def listen(self, playback: Playback) -> None:
        """The response's listener: for the engines, and for the speculation's rest once claimed."""
        self._engines.listen(playback)
        if self._speculation is not None:
            self._speculation.source.listen(playback)

    async def llm_stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        speculation, self._speculation = self._speculation, None
        chunks: AsyncIterator[LLMChunk]
        if speculation is not None and await speculation.matches(request):
            speculation.claim()
            self._tts_from = speculation
            SPECULATION_STATS.reused += 1
            chunks = speculation.replay_llm()
        else:
            if speculation is not None:
                SPECULATION_STATS.mismatched += 1
                self._speculator.discard(speculation)
            chunks = self._engines.llm_stream(request)
        async with closing(chunks):
            async for chunk in chunks:
                yield chunk

    def tts_stream(self, text: str, voice: str, speed: float, *, first: bool) -> AsyncIterator[bytes]:
        speculation = self._tts_from
        if first and speculation is not None:
            self._tts_from = None
            audio = speculation.first_audio(text, voice, speed)
            if audio is not None:
                return audio
        return self._engines.tts_stream(text, voice, speed, first=first)


class Speculator:
    """A session's speculations: at most one at a time, ``max_attempts`` per turn.

    Args:
        engines: the process's engines.
        spawn: runs a task owned (and awaited) by the session.
        max_attempts: speculations per turn (a user who pauses often costs no more than this).
    """

    def __init__(
        self,
        engines: Engines,
        spawn: Callable[[Coroutine[Any, Any, None], str], None],
        max_attempts: int = 3,
    ) -> None:
        self._engines = engines
        self._spawn = spawn
        self._max_attempts = max_attempts
        self._current: Speculation | None = None
        self._attempts = 0

    @property
    def current(self) -> Speculation | None:
        """The speculation in the making, if any."""
        return self._current

    def start(
        self,
        settings: SessionSettings,
        context: Sequence[Item],
        transcript: Callable[[], Awaitable[str | None]],
    ) -> bool:
        """Speculate on the turn so far (a pause); False when this turn used up its attempts."""
        self.drop()
        if self._attempts >= self._max_attempts:
            return False
        self._attempts += 1
        SPECULATION_STATS.attempts += 1
        speculation = Speculation(self._engines, settings, context, transcript)
        self._current = speculation
        self._spawn(speculation.run(), "speculation")
        return True

    def drop(self) -> None:
        """The user went on (or the turn needs no answer): forget the speculation in the making."""
        speculation, self._current = self._current, None
        if speculation is not None:
            SPECULATION_STATS.dropped += 1
            speculation.drop()

    def discard(self, speculation: Speculation) -> None:
        """A claimed speculation did not match: cancel it (already counted as mismatched)."""
        speculation.drop()

    def new_turn(self) -> None:
        """A new turn started: its attempts count from zero."""
        self.drop()
        self._attempts = 0

    def source_for_turn(self, fallback: EngineSource) -> Any:
        """The source for the response of the turn just ended: the speculation if there is one."""
        speculation, self._current = self._current, None
        self._attempts = 0
        if speculation is None:
            return fallback
        return _ClaimedSource(self, speculation, fallback)

"""Where a response's model output comes from: the engines, or a speculation made during the pause.

A ``ResponseRun`` asks its source for the LLM stream of its request and for the audio of each piece of
text. ``EngineSource`` calls the engines (through the process's fair-share scheduler, when there is one);
a claimed speculation (``speculation.py``) replays what it already made when the request is the one it
answered, and otherwise falls back to the engines. The response cannot tell the difference: the events it
sends, their order and its usage are the same either way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from typing import Protocol

from voxpipe.server.connection.playback import Playback
from voxpipe.server.connection.settings import SessionSettings
from voxpipe.server.connection.streams import closing
from voxpipe.server.engines.registry import Engines
from voxpipe.server.engines.types import LLMChunk, LLMItem, LLMRequest, TextDelta, Usage
from voxpipe.server.scheduling import FairShare, Priority

__all__ = ["EngineSource", "ResponseSource", "llm_request"]

logger = logging.getLogger(__name__)

_HEAD_DELTAS = 8  # text deltas (tokens) of an LLM generation that count as its head at most: about a first
# piece; with ``FairShare.short_heads`` the head ends sooner, when its first piece is cut


def _resumed(request: LLMRequest, said: list[str], earlier: int) -> LLMRequest:
    """``request``, or its continuation after the words ``said`` (``earlier`` deltas of them)."""
    if not said:
        return request
    cap = request.max_output_tokens
    return dataclasses.replace(
        request,
        continuation="".join(said),
        max_output_tokens=None if cap is None else max(1, cap - earlier),
    )


def llm_request(settings: SessionSettings, messages: list[LLMItem]) -> LLMRequest:
    """The LLM request of a response with ``settings`` over ``messages``.

    The one place requests are built, so a speculation and the response it stands in for build equal
    requests from equal inputs (equality is how a speculation is recognised as reusable).
    """
    return LLMRequest(
        instructions=settings.instructions,
        messages=tuple(messages),
        tools=settings.tools,
        tool_choice=settings.tool_choice,
        temperature=settings.temperature,
        max_output_tokens=settings.max_output_tokens,
    )


class ResponseSource(Protocol):
    """The model output of one response."""

    def llm_stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """The LLM's chunks for ``request`` (close it to stop early)."""

    def tts_stream(self, text: str, voice: str, speed: float, *, first: bool) -> AsyncIterator[bytes]:
        """PCM16 at the TTS engine's rate for one piece; ``first``: the answer's first piece."""

    def listen(self, playback: Playback) -> None:
        """Schedule the answer's later work by how much ``playback`` says its listener has ahead."""


class EngineSource:
    """The engines, each call scheduled by ``fair_share`` (when given) at the priority of its place.

    Args:
        engines: the process's engines.
        fair_share: the process's scheduler, or None to call the engines directly.
        speculative: the calls are a guess made during a pause (lowest priority until promoted).
    """

    def __init__(self, engines: Engines, fair_share: FairShare | None, *, speculative: bool = False) -> None:
        self._engines = engines
        self._fair_share = fair_share
        self._speculative = speculative
        self._playback: Playback | None = None
        self._asked_at: float | None = None  # the answer's first call: its head's deadline
        self._llm_due = False  # the generation's listener runs short (kept until it has plenty again)
        self._first_piece_cut = False

    def promote(self) -> None:
        """The guess was confirmed: its remaining work is an answer's head like any other."""
        self._speculative = False
        self._asked_at = time.monotonic()  # its listener waits from now on

    def listen(self, playback: Playback) -> None:
        """Place later pieces and the generation past its head by how much ``playback`` has ahead."""
        self._playback = playback

    def _tracking(self) -> tuple[Playback, FairShare] | None:
        """The listener's playback and the scheduler when tails are placed by it
        (``FairShare.deadlines``), else None."""
        fair_share, playback = self._fair_share, self._playback
        if fair_share is None or not fair_share.deadlines or self._speculative or playback is None:
            return None
        return playback, fair_share

    def _head_deadline(self) -> float:
        if self._asked_at is None:
            self._asked_at = time.monotonic()
        return self._asked_at

    def _priority(self, first: bool) -> Priority:
        """A piece's place at the TTS: a first piece is a head, a later one too when its listener has less
        audio ahead than the TTS needs to make it (``FairShare.tts_lead_s``)."""
        if self._speculative:
            return Priority.SPECULATIVE
        if first:
            return Priority.HEAD
        tracking = self._tracking()
        if tracking is not None and tracking[0].audio_ahead() < tracking[1].tts_lead_s:
            return Priority.HEAD
        return Priority.TAIL

    def _tts_deadline(self, first: bool) -> float:
        tracking = self._tracking()
        if first or tracking is None:
            return self._head_deadline()
        playback, fair_share = tracking
        return playback.runs_out_at() - fair_share.tts_lead_s

    def _head(self) -> contextlib.AbstractContextManager[None]:
        """Mark an answer's head for the scheduler (a guess: for the background passes only)."""
        if self._fair_share is None:
            return contextlib.nullcontext()
        return self._fair_share.head(speculative=self._speculative)

    def _head_done(self, deltas: int) -> bool:
        """Whether a generation is past its head after ``deltas`` text deltas: ``_HEAD_DELTAS`` came out,
        or (``FairShare.short_heads``) its first piece was cut for the TTS, which needs nothing more
        from the LLM for the listener's first words."""
        if deltas >= _HEAD_DELTAS:
            return True
        if self._fair_share is None or not self._fair_share.short_heads:
            return False
        return self._first_piece_cut or (self._playback is not None and self._playback.pieces > 0)

    def first_piece_cut(self) -> None:
        """The answer's first piece went to the TTS (said by a maker of pieces with no ``Playback``: a
        speculation); a response's pieces are counted by its ``Playback``."""
        self._first_piece_cut = True

    def _llm_priority(self, deltas: int) -> Priority:
        """A generation's place at the LLM after ``deltas`` text deltas: past its head it is a tail (a
        guess too: only its first words need to be ready when its turn is confirmed), unless its listener
        runs short of speech (``FairShare.llm_lead_s``): then it is due, placed as a head until its
        listener has twice that ahead (so it does not give the LLM up and take it back a token later)."""
        if not self._head_done(deltas):
            return Priority.SPECULATIVE if self._speculative else Priority.HEAD
        tracking = self._tracking()
        if tracking is None:
            return Priority.TAIL
        playback, fair_share = tracking
        lead = fair_share.llm_lead_s
        self._llm_due = playback.speech_ahead() < (2 * lead if self._llm_due else lead)
        return Priority.HEAD if self._llm_due else Priority.TAIL

    def _llm_yield_deadline(self, deltas: int, held: int) -> float | None:
        """The deadline by which a due generation gives the LLM up to a waiting head of earlier deadline,
        once its listener has ``llm_lead_s`` ahead or it has held the LLM for ``_HEAD_DELTAS`` deltas in
        this pass (``held``: a hand-over costs a prompt evaluation, so each holder makes that much);
        None: it gives the LLM up to better priorities only."""
        tracking = self._tracking()
        if not self._head_done(deltas) or tracking is None or not self._llm_due:
            return None
        playback, fair_share = tracking
        if playback.speech_ahead() < fair_share.llm_lead_s and held < _HEAD_DELTAS:
            return None
        return self._llm_deadline(deltas)

    def _llm_deadline(self, deltas: int) -> float:
        tracking = self._tracking()
        if not self._head_done(deltas) or tracking is None:
            return self._head_deadline()
        playback, fair_share = tracking
        return playback.runs_out_at(speech=True) - fair_share.llm_lead_s

    async def llm_stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """The LLM's stream, run when the scheduler gives the LLM to this answer; its head lasts from the
        call until ``_HEAD_DELTAS`` text deltas (about the first piece) came out, or with
        ``FairShare.short_heads`` until its first piece is cut.

        When the scheduler asks (``FairShare.yields_to``: a better-priority call waits) and the engine is
        ``resumable``, the generation gives the LLM up after a text delta, queues again and goes on
        from the words it said; the chunks join into one answer and the usage adds up the passes.
        """
        fair_share = self._fair_share
        resumable = self._engines.llm.capabilities.resumable
        yields_to = fair_share.yields_to if fair_share is not None and resumable else None
        said: list[str] = []
        deltas = 0

        def place() -> Priority:  # read when the gate is handed on: the deltas so far decide
            return self._llm_priority(deltas)

        def deadline() -> float:
            return self._llm_deadline(deltas)

        with contextlib.ExitStack() as head:
            head.enter_context(self._head())  # waiting for the LLM is part of the head
            while True:
                earlier = deltas  # output of the passes given up
                gave_up = False
                async with (
                    FairShare.turn(fair_share, "llm", place, deadline),
                    closing(self._engines.llm.stream(_resumed(request, said, earlier))) as chunks,
                ):
                    async for chunk in chunks:
                        if isinstance(chunk, TextDelta):
                            deltas += 1
                            said.append(chunk.text)
                            yield chunk  # the consumer cuts the first piece from it, if it ends one
                            if self._head_done(deltas):
                                head.close()  # idempotent
                            if yields_to is not None and yields_to(
                                "llm", place(), self._llm_yield_deadline(deltas, deltas - earlier)
                            ):
                                gave_up = True
                                break
                        elif isinstance(chunk, Usage) and earlier:
                            output = chunk.output_tokens + earlier
                            yield Usage(chunk.input_tokens, output, chunk.cached_tokens)
                        else:
                            yield chunk
                if not gave_up:
                    return
                logger.debug("llm given up after %d deltas: a call of better priority waits", deltas)

    async def end_of_turn(self, request: LLMRequest, *, answer_next: bool = True) -> float | None:
        """Semantic VAD's judgement of the user's words in ``request`` (``LLMEngine.end_of_turn``), run
        when the scheduler gives the LLM to it: before any waiting generation (``Priority.JUDGE``), and a
        generation holding the LLM gives it up at its next token. Queued behind the session's own
        speculation (which starts at the same pause), the verdict came hundreds of ms late."""
        async with FairShare.turn(self._fair_share, "llm", lambda: Priority.JUDGE):
            return await self._engines.llm.end_of_turn(request, answer_next=answer_next)

    async def prefill(self, request: LLMRequest) -> None:
        """Read ``request``'s prompt into the LLM's cache (``LLMEngine.prefill``) when the scheduler has
        nothing better to give the LLM to (``Priority.PREFILL``), giving it up between steps as soon as
        any other call waits for it."""
        fair_share = self._fair_share
        async with (
            FairShare.turn(fair_share, "llm", lambda: Priority.PREFILL),
            closing(self._engines.llm.prefill(request)) as steps,
        ):
            async for _cached in steps:
                if fair_share is not None and fair_share.gate("llm").wanted_before(Priority.PREFILL):
                    return

    async def tts_stream(self, text: str, voice: str, speed: float, *, first: bool) -> AsyncIterator[bytes]:
        """One piece's audio, made when the scheduler gives the TTS to it (a first piece is a head)."""
        async with (
            FairShare.turn(
                self._fair_share, "tts", lambda: self._priority(first), lambda: self._tts_deadline(first)
            ),
            closing(self._engines.tts.stream(text, voice, speed)) as chunks,
        ):
            with self._head() if first else contextlib.nullcontext():
                async for pcm in chunks:
                    yield pcm

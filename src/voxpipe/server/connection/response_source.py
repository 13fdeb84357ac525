"""Where a response's model output comes from: the engines, or a speculation made during the pause.

A ``ResponseRun`` asks its source for the LLM stream of its request and for the audio of each piece of
text. ``EngineSource`` calls the engines (through the process's fair-share scheduler, when there is one);
a claimed speculation (``speculation.py``) replays what it already made when the request is the one it
answered, and otherwise falls back to the engines. The response cannot tell the difference: the events it
sends, their order and its usage are the same either way.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from voxpipe.server.connection.settings import SessionSettings
from voxpipe.server.connection.streams import closing
from voxpipe.server.engines.registry import Engines
from voxpipe.server.engines.types import LLMChunk, LLMItem, LLMRequest, TextDelta
from voxpipe.server.scheduling import FairShare, Priority

__all__ = ["EngineSource", "ResponseSource", "llm_request"]

_HEAD_DELTAS = 8  # text deltas (tokens) of an LLM generation that count as its head: about a first piece


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

    def promote(self) -> None:
        """The guess was confirmed: its remaining work is an answer's head like any other."""
        self._speculative = False

    def _priority(self, first: bool) -> Priority:
        if self._speculative:
            return Priority.SPECULATIVE
        return Priority.HEAD if first else Priority.TAIL

    def _head(self) -> contextlib.AbstractContextManager[None]:
        """Mark an answer's head for the scheduler (a guess is no head: tails do not wait for it)."""
        if self._fair_share is None or self._speculative:
            return contextlib.nullcontext()
        return self._fair_share.head()

    async def llm_stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """The LLM's stream, run when the scheduler gives the LLM to this answer; its head lasts from the
        call until ``_HEAD_DELTAS`` text deltas (about the first piece) came out."""
        with contextlib.ExitStack() as head:
            head.enter_context(self._head())  # waiting for the LLM is part of the head
            async with (
                FairShare.turn(self._fair_share, "llm", lambda: self._priority(True)),
                closing(self._engines.llm.stream(request)) as chunks,
            ):
                deltas = 0
                async for chunk in chunks:
                    if isinstance(chunk, TextDelta):
                        deltas += 1
                        if deltas == _HEAD_DELTAS:
                            head.close()
                    yield chunk

    async def tts_stream(self, text: str, voice: str, speed: float, *, first: bool) -> AsyncIterator[bytes]:
        """One piece's audio, made when the scheduler gives the TTS to it (a first piece is a head)."""
        async with (
            FairShare.turn(self._fair_share, "tts", lambda: self._priority(first)),
            closing(self._engines.tts.stream(text, voice, speed)) as chunks,
        ):
            with self._head() if first else contextlib.nullcontext():
                async for pcm in chunks:
                    yield pcm

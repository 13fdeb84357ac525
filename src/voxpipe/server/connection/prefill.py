"""Reading ahead: the words of a turn still being spoken go into the LLM's prompt cache.

An answer's first token waits for its prompt, and the prompt ends with the user's words: a model with a
prompt cache (llama.cpp) evaluates every token the cache does not hold yet, at about 30 ms a token on one
core for the default local model, so a twelve-word question cost about 0.3 s after the pause, before the
first word of the answer. Those words are known, bit by bit, while the user is still speaking: the STT's
partial transcripts. So while the user speaks, the session hands each new partial to a ``Prefiller``,
which asks the LLM to read the prompt a response to those words would have (``LLMEngine.prefill``) at
the lowest priority (``scheduling.Priority.PREFILL``): it gives the model up between its short steps to
any other call (a judgement, a speculation, another session's answer). At the pause, the judgement, the
speculation and the answer then find most of the words cached and evaluate only the last ones.

Nothing of it reaches the client, the conversation or the usage: the LLM only keeps its cache. A partial
the final transcript contradicts costs nothing but the step that read it (the cache is reused up to the
first token that differs). At most one read runs per session, and only the newest partial waits behind it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from voxpipe.server.connection.conversation import Item
from voxpipe.server.connection.response_source import EngineSource, llm_request
from voxpipe.server.connection.settings import SessionSettings
from voxpipe.server.engines.registry import Engines
from voxpipe.server.engines.types import LLMItem, LLMMessage

__all__ = ["Prefiller"]

logger = logging.getLogger(__name__)


class Prefiller:
    """A session's reading ahead (see the module docstring).

    Args:
        engines: the process's engines.
        spawn: runs a task owned (and awaited) by the session.
    """

    def __init__(self, engines: Engines, spawn: Callable[[Coroutine[Any, Any, None], str], None]) -> None:
        self._source = EngineSource(engines, engines.fair_share)
        self._spawn = spawn
        self._task: asyncio.Task[None] | None = None
        self._running = False
        self._next: tuple[SessionSettings, Sequence[Item], str] | None = None
        self._last_words: str | None = None

    @property
    def running(self) -> bool:
        """Whether a read is queued or in progress."""
        return self._running

    def update(self, settings: SessionSettings, context: Sequence[Item], words: str) -> None:
        """The user has said ``words`` so far in this turn (``context``: the conversation before it)."""
        words = words.strip()
        if not words or words == self._last_words:
            return
        self._last_words = words
        self._next = (settings, context, words)
        if not self._running:
            self._running = True
            self._spawn(self._run(), "prefill")

    def stop(self) -> None:
        """The turn paused or ended, or an answer started: stop reading (the words read stay cached)."""
        self._next = None
        self._last_words = None
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _run(self) -> None:
        self._task = asyncio.current_task()
        try:
            while self._next is not None:
                settings, context, words = self._next
                self._next = None
                messages: list[LLMItem] = []
                for item in context:
                    llm_item = await item.llm_item()
                    if llm_item is not None:
                        messages.append(llm_item)
                messages.append(LLMMessage("user", words))
                await self._source.prefill(llm_request(settings, messages))
        except asyncio.CancelledError:
            pass  # stopped: the session goes on (never re-raised into the session's task group)
        except Exception as exc:  # reading ahead is an optimisation: a failed read changes no answer
            logger.debug("prefill failed: %s: %s", type(exc).__name__, exc)
        finally:
            self._running = False
            self._task = None

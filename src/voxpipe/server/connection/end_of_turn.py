"""Semantic VAD's question: has the user finished, judging by the words (read by a model) and the pause?

When the VAD has heard the silence window of ``eagerness``, ``EndOfTurnJudge.start`` takes the words of
the turn so far (the STT's snapshot, which waits for the pass over the last words) and asks the session's
LLM how likely the message is finished (``LLMEngine.end_of_turn``: for the local model, the probability
that the user's message ends after these words, read from the same prompt the answer will use). The turn
ends when that probability reaches the eagerness's threshold; otherwise it is held open (see
``turn_detection``). An engine that cannot tell (None) falls back to punctuation: words that end like a
sentence (``.``, ``?``, ``!``) count as finished, and so do no words at all.

The judgement runs in its own task so that appends are never held up by it: the detector polls
``verdict`` at every append and ends the turn on the first one that says finished. A resumed utterance
or a reset cancels it; ``aclose`` awaits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable

__all__ = ["THRESHOLDS", "EndOfTurnJudge", "sounds_finished"]

logger = logging.getLogger(__name__)

#: Probability of "finished" at which each eagerness ends the turn.
THRESHOLDS = {"high": 0.1, "medium": 0.25, "auto": 0.25, "low": 0.5}
_SENTENCE_END = re.compile(r"[.?!][\"')\]]*\s*$")


def sounds_finished(words: str | None) -> bool:
    """The punctuation fallback: no words, or words that end like a sentence."""
    return words is None or not words.strip() or bool(_SENTENCE_END.search(words))


class EndOfTurnJudge:
    """One session's end-of-turn judgements (at most one at a time).

    Args:
        words: the words of the turn so far, or None when they cannot be known.
        model: the probability that those words are a finished message, or None if the model cannot tell.
        eagerness: the session's ``eagerness``; picks the threshold.
    """

    def __init__(
        self,
        words: Callable[[], Awaitable[str | None]],
        model: Callable[[str], Awaitable[float | None]],
        eagerness: str,
    ) -> None:
        self._words = words
        self._model = model
        self._threshold = THRESHOLDS.get(eagerness, THRESHOLDS["auto"])
        self._task: asyncio.Task[bool] | None = None
        self._cancelled: set[asyncio.Task[bool]] = set()  # awaited in aclose

    def start(self) -> None:
        """Judge the turn as it stands now (cancelling a judgement still running)."""
        self.cancel()
        self._task = asyncio.get_running_loop().create_task(self._judge(), name="end of turn judgement")

    def verdict(self) -> bool | None:
        """True (finished) or False (not yet) once judged; None while judging or when nothing was asked."""
        task = self._task
        if task is None or not task.done() or task.cancelled():
            return None
        return task.result()

    def cancel(self) -> None:
        """Forget the judgement (the user went on, or the turn was reset)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            self._cancelled.add(task)
            task.add_done_callback(self._cancelled.discard)

    async def _judge(self) -> bool:
        try:
            words = await self._words()
            if not words or not words.strip():
                return True
            probability = await self._model(words)
        except Exception as exc:  # a failing engine must not stall turn taking: the pause decides
            logger.warning("end-of-turn judgement failed: %s", type(exc).__name__)
            return True
        if probability is None:
            return sounds_finished(words)
        logger.debug("end of turn: p=%.3f, threshold %.2f", probability, self._threshold)
        return probability >= self._threshold

    async def aclose(self) -> None:
        """Cancel and await the judgement in flight."""
        self.cancel()
        for task in list(self._cancelled):
            with contextlib.suppress(asyncio.CancelledError):
                await task

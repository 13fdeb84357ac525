"""Semantic VAD's question: has the user finished, judging by the words (read by a model) and the pause?

After a first short silence (``FIRST_LOOK_MS``), ``EndOfTurnJudge.start`` takes the words of the turn so
far (the STT's snapshot, which waits for the pass over the last words) and asks the session's LLM how
likely the message is finished (``LLMEngine.end_of_turn``: for the local model, the probability that the
user's message ends after these words, read from the same prompt the answer will use). The verdict
weighs that probability against the silence so far (see ``turn_detection``):

* at or above the eagerness's ``CONFIDENT`` level, the turn ends at once: a complete question needs no
  500 ms of silence to be recognised, and people answer about 200 ms after one;
* at or above its ``THRESHOLDS`` level, the turn ends once the eagerness's silence window has passed;
* below, it is held open (to the detector's longest wait).

An engine that cannot tell (None) falls back to punctuation at the window: words that end like a
sentence (``.``, ``?``, ``!``) count as finished, and so do no words at all.

The judgement runs in its own task so that appends are never held up by it: the detector polls
``verdict`` at every append and ends the turn on the first one that says finished. A resumed utterance
or a reset cancels it; ``aclose`` awaits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import re
from collections.abc import Awaitable, Callable

__all__ = ["CONFIDENT", "FIRST_LOOK_MS", "THRESHOLDS", "EndOfTurnJudge", "sounds_finished"]

logger = logging.getLogger(__name__)

#: Probability of "finished" at which each eagerness ends the turn once its silence window has passed.
#: The shorter the window, the more often a pause in mid-sentence lasts that long, so the higher the bar:
#: the local model (``LlamaLLMEngine.end_of_turn``) put first halves of questions at 0.00-0.35 and whole
#: ones at 0.00-0.95, median 0.6 (``tests/fixtures/turns``).
THRESHOLDS = {"high": 0.4, "medium": 0.2, "auto": 0.2, "low": 0.1}
#: Probability at which each eagerness ends the turn at the first look, before its window (``low`` only
#: when the end is near certain: its user asked to be given time).
CONFIDENT = {"high": 0.5, "medium": 0.5, "auto": 0.5, "low": 0.9}
#: Silence after which the words are first judged (no eagerness ends a turn sooner).
FIRST_LOOK_MS = 200
_SENTENCE_END = re.compile(r"[.?!][\"')\]]*\s*$")


class _Judgement(enum.Enum):
    """What the words say (the verdict also weighs the silence)."""

    CONFIDENT = "confident"  # finished: end now
    LIKELY = "likely"  # finished once the eagerness's window has passed
    UNFINISHED = "unfinished"  # hold the turn open


def sounds_finished(words: str | None) -> bool:
    """The punctuation fallback: no words, or words that end like a sentence."""
    return words is None or not words.strip() or bool(_SENTENCE_END.search(words))


class EndOfTurnJudge:
    """One session's end-of-turn judgements (at most one at a time).

    Args:
        words: the words of the turn so far, or None when they cannot be known.
        model: the probability that those words are a finished message, or None if the model cannot tell.
        eagerness: the session's ``eagerness``; picks the thresholds.
        window_ms: the eagerness's silence window (a merely likely end waits for it).
    """

    def __init__(
        self,
        words: Callable[[], Awaitable[str | None]],
        model: Callable[[str], Awaitable[float | None]],
        eagerness: str,
        window_ms: int,
    ) -> None:
        self._words = words
        self._model = model
        self._threshold = THRESHOLDS.get(eagerness, THRESHOLDS["auto"])
        self._confident = CONFIDENT.get(eagerness, CONFIDENT["auto"])
        self._window_ms = window_ms
        self._task: asyncio.Task[_Judgement] | None = None
        self._cancelled: set[asyncio.Task[_Judgement]] = set()  # awaited in aclose

    def start(self) -> None:
        """Judge the turn as it stands now (cancelling a judgement still running)."""
        self.cancel()
        self._task = asyncio.get_running_loop().create_task(self._judge(), name="end of turn judgement")

    @property
    def asked(self) -> bool:
        """Whether a judgement was started and not cancelled since (it may still be running)."""
        return self._task is not None

    async def judged(self) -> None:
        """Wait until the judgement in flight, if any, is over (done, failed or cancelled); never raises."""
        task = self._task
        if task is not None and not task.done():
            await asyncio.wait({task})

    def verdict(self, silence_ms: int) -> bool | None:
        """After ``silence_ms`` of silence: True (finished) or False (not yet) once judged; None while
        judging or when nothing was asked."""
        task = self._task
        if task is None or not task.done() or task.cancelled():
            return None
        judgement = task.result()
        if judgement is _Judgement.CONFIDENT:
            return True
        return judgement is _Judgement.LIKELY and silence_ms >= self._window_ms

    def cancel(self) -> None:
        """Forget the judgement (the user went on, or the turn was reset)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            self._cancelled.add(task)
            task.add_done_callback(self._cancelled.discard)

    async def _judge(self) -> _Judgement:
        try:
            words = await self._words()
            if not words or not words.strip():
                return _Judgement.LIKELY
            probability = await self._model(words)
        except Exception as exc:  # a failing engine must not stall turn taking: the pause decides
            logger.warning("end-of-turn judgement failed: %s", type(exc).__name__)
            return _Judgement.LIKELY
        if probability is None:
            return _Judgement.LIKELY if sounds_finished(words) else _Judgement.UNFINISHED
        logger.debug(
            "end of turn: p=%.3f, thresholds %.2f / %.2f", probability, self._threshold, self._confident
        )
        if probability >= self._confident:
            return _Judgement.CONFIDENT
        return _Judgement.LIKELY if probability >= self._threshold else _Judgement.UNFINISHED

    async def aclose(self) -> None:
        """Cancel and await the judgement in flight."""
        self.cancel()
        for task in list(self._cancelled):
            with contextlib.suppress(asyncio.CancelledError):
                await task

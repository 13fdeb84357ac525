"""Semantic VAD's question: has the user finished, judging by the words (read by a model) and the pause?

After a first short silence (``FIRST_LOOK_MS``), ``EndOfTurnJudge.start`` takes the words of the turn so
far (the STT's snapshot, which waits for the pass over the last words) and asks the session's LLM how
likely the message is finished (``LLMEngine.end_of_turn``: for the local model, the probability that the
user's message ends after these words, read from the same prompt the answer will use). That probability
sets how much silence ends the turn (``silence_needed``): the likelier the end, the shorter the wait.

For the local model the probability spreads over orders of magnitude, so the levels are on that scale
(``LEVELS``, chosen on the development texts of ``tests/fixtures/turns/texts.json``; ``bench/end_of_turn.py
--texts`` prints them): unfinished prefixes ("What is the capital of", "Set an alarm for") get under 0.005
(57 of 58; "What day is it" 0.11); whole questions and requests 0.035-0.87 for 9 in 10 (median 0.4), the
lowest those that could go on ("Remind me to buy milk" 0.06: "... on Monday"; "Front right" 0.003);
complete clauses that are often continued ("Play some jazz", "Book a flight") 0.001-0.6, median 0.015.
So, by eagerness (window: high 250 ms, medium/auto 500 ms, low 1000 ms):

* **confident** (0.3 and up; ``low`` 0.9): the turn ends at the first look (200 ms): a complete question
  needs no 500 ms of silence to be recognised, and people answer about 200 ms after one;
* **likely** (0.01 and up; ``high``: 0.3): it ends once the eagerness's window has passed. Mid-sentence
  pauses of 200-400 ms are shorter than ``auto``'s window, so a clause that may go on is not cut there;
  ``high``'s window is not, so there only a confident judgement ends the turn inside it;
* **possible** (0.002 and up; ``high``: 0.01): it ends after twice the window;
* below: it is held open to the detector's longest wait (three windows).

Before the model's word is taken, a last word that cannot end an English sentence (an article, a
conjunction, a filler: "and", "the", "um") caps the probability below every level but the longest wait:
Whisper sometimes closes such words with a full stop, and the model rarely errs there, but it costs
nothing to be sure. It never raises a probability: a finished turn is for the model to recognise.

An engine that cannot tell (None) falls back to punctuation at the window: words that end like a
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
from dataclasses import dataclass

__all__ = [
    "FIRST_LOOK_MS",
    "LEVELS",
    "EndOfTurnJudge",
    "Levels",
    "hanging",
    "silence_needed",
    "sounds_finished",
]

logger = logging.getLogger(__name__)

#: Silence after which the words are first judged (no eagerness ends a turn sooner).
FIRST_LOOK_MS = 200
_SENTENCE_END = re.compile(r"[.?!][\"')\]]*\s*$")
_LAST_WORD = re.compile(r"([A-Za-z']+)[^A-Za-z']*$")
#: Words no English sentence ends with: articles, conjunctions that join clauses, hesitations, and the
#: possessive determiners (prepositions can end one: "Where are you from?").
_HANGING = frozenset(
    {
        *("a", "an", "the", "my", "your", "our", "their", "its"),
        *("and", "but", "or", "nor", "because", "although", "though", "if", "whether", "than"),
        *("um", "uh", "erm", "er", "hmm"),
    }
)
_HANGING_CAP = 0.001


@dataclass(frozen=True, slots=True)
class Levels:
    """The probabilities of "finished" at which an eagerness ends the turn sooner than its longest wait.

    Attributes:
        confident: at the first look (``FIRST_LOOK_MS``).
        likely: once the eagerness's window has passed.
        possible: after twice the window.
    """

    confident: float
    likely: float
    possible: float


LEVELS = {
    "high": Levels(confident=0.3, likely=0.3, possible=0.01),
    "medium": Levels(confident=0.3, likely=0.01, possible=0.002),
    "auto": Levels(confident=0.3, likely=0.01, possible=0.002),
    "low": Levels(confident=0.9, likely=0.01, possible=0.002),
}
"""By eagerness (see the module docstring). ``high`` has no likely level below its confident one: its window
(250 ms) is shorter than many mid-sentence pauses; ``low``'s user asked to be given time, so the first look
needs a near-certain end."""


def silence_needed(words: str | None, probability: float | None, eagerness: str, window_ms: int) -> int:
    """Milliseconds of silence after which ``words``, judged finished with ``probability`` (None: the model
    cannot tell), end the turn, for an eagerness whose window is ``window_ms``."""
    if not words or not words.strip():
        return window_ms
    if probability is None:
        return window_ms if sounds_finished(words) else 3 * window_ms
    if hanging(words):
        probability = min(probability, _HANGING_CAP)
    levels = LEVELS.get(eagerness, LEVELS["auto"])
    if probability >= levels.confident:
        return FIRST_LOOK_MS
    if probability >= levels.likely:
        return window_ms
    if probability >= levels.possible:
        return 2 * window_ms
    return 3 * window_ms


def hanging(words: str) -> bool:
    """Whether the last word of ``words`` is one no English sentence ends with ("and", "the", "um")."""
    match = _LAST_WORD.search(words)
    return match is not None and match.group(1).lower() in _HANGING


def sounds_finished(words: str | None) -> bool:
    """The punctuation fallback: no words, or words that end like a sentence."""
    return words is None or not words.strip() or bool(_SENTENCE_END.search(words))


class EndOfTurnJudge:
    """One session's end-of-turn judgements (at most one at a time).

    Args:
        words: the words of the turn so far, or None when they cannot be known.
        model: the probability that those words are a finished message, or None if the model cannot tell.
        eagerness: the session's ``eagerness``; picks the levels.
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
        self._eagerness = eagerness
        self._window_ms = window_ms
        self._task: asyncio.Task[int] | None = None
        self._cancelled: set[asyncio.Task[int]] = set()  # awaited in aclose

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
        return silence_ms >= task.result()

    def cancel(self) -> None:
        """Forget the judgement (the user went on, or the turn was reset)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            self._cancelled.add(task)
            task.add_done_callback(self._cancelled.discard)

    async def _judge(self) -> int:
        """The silence after which the words as they stand end the turn."""
        try:
            words = await self._words()
            probability = await self._model(words) if words and words.strip() else None
        except Exception as exc:  # a failing engine must not stall turn taking: the pause decides
            logger.warning("end-of-turn judgement failed: %s", type(exc).__name__)
            return self._window_ms
        needed = silence_needed(words, probability, self._eagerness, self._window_ms)
        logger.debug("end of turn: p=%s, ends after %d ms of silence", probability, needed)
        return needed

    async def aclose(self) -> None:
        """Cancel and await the judgement in flight."""
        self.cancel()
        for task in list(self._cancelled):
            with contextlib.suppress(asyncio.CancelledError):
                await task

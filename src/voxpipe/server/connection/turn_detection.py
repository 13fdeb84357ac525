"""Turn detection: server VAD, semantic VAD and the GA idle timeout, on the session's audio clock.

Server VAD is the VAD engine with the session's ``threshold``, ``prefix_padding_ms`` and
``silence_duration_ms``.

Semantic VAD decides from the words, with a model (``end_of_turn.py``), on top of the same VAD:

* the silence window comes from ``eagerness``: ``high`` 250 ms, ``medium``/``auto`` 500 ms, ``low``
  1000 ms (threshold 0.5, prefix padding 300 ms);
* after ``end_of_turn.FIRST_LOOK_MS`` (200 ms) of silence, the turn is held open (``SpeechState.ENDING``)
  while the words so far are judged (the LLM's probability that the message is finished; punctuation when
  the engine cannot tell); the judgement sets the silence that ends the turn (``end_of_turn``): the first
  look for a confident one, then one, two or three windows as the end gets less likely; the turn ends at
  the first append past it;
* at the latest it ends after three times the window in all (so 750 / 1500 / 3000 ms of silence), never
  more than OpenAI's maximum waits (2 / 4 / 8 s); speech in that time continues the same turn without a
  second ``speech_started`` (and drops the judgement).

Pauses: when ``pause_ms`` is given and the VAD can tell its trailing silence, a pause of that much
silence inside a turn is reported (``PAUSED``), and so is speech resuming after it (``RESUMED``). Neither
reaches the client: they let the session answer speculatively while the silence window runs
(``speculation.py``). Semantic VAD starts its judgement at the pause already, so that it is ready by the
first look (the words do not change in silence; speech resuming cancels it), and the speculation waits
for it (``judged``): both need the LLM, and the judgement, a short look that ends the turn, must not
queue behind the speculation's prompt evaluation, which cannot be interrupted. The local LLM's judgement
reads the whole prompt of the answer to those words in the same evaluation (``LlamaLLMEngine.end_of_turn``),
so the speculation then samples its first token at once.

Idle timeout (GA ``idle_timeout_ms``): once a response has finished, that much audio clock with no speech
triggers ``input_audio_buffer.timeout_triggered`` (the session then commits and responds).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from voxpipe.audio import StreamResampler
from voxpipe.server.connection.end_of_turn import FIRST_LOOK_MS, EndOfTurnJudge
from voxpipe.server.connection.settings import TurnDetectionKind, TurnDetectionSettings
from voxpipe.server.connection.state import SpeechState, check_move
from voxpipe.server.engines.base import VADEngine, VADStream
from voxpipe.server.engines.types import VADConfig, VADEventType

__all__ = ["TurnDetector", "TurnEvent", "TurnEventType"]

_EAGERNESS_MS = {"high": 250, "medium": 500, "auto": 500, "low": 1000}
_MAX_WAIT_MS = {"high": 2000, "medium": 4000, "auto": 4000, "low": 8000}


class TurnEventType(enum.Enum):
    """What the detector decided."""

    SPEECH_STARTED = "speech_started"
    SPEECH_STOPPED = "speech_stopped"
    IDLE_TIMEOUT = "idle_timeout"
    PAUSED = "paused"
    RESUMED = "resumed"


@dataclass(frozen=True, slots=True)
class TurnEvent:
    """A decision, at clock time ``audio_ms`` (for a timeout: ``start_ms`` is where the idle time began)."""

    type: TurnEventType
    audio_ms: int
    start_ms: int = 0


class TurnDetector:
    """Runs one session's VAD stream and applies the turn rules of the module docstring.

    Args:
        engine: the VAD engine (its stream runs at the engine's rate).
        settings: the session's turn detection.
        clock_ms: the session clock now (the VAD's own clock starts at 0 here).
        words: returns the words heard so far in this turn, or None (semantic VAD only).
        judge: the model's probability that those words are a finished message, or None if it cannot
            tell (semantic VAD only).
        pause_ms: silence inside a turn reported as ``PAUSED`` (None: no pause events). It is capped at
            half the silence window, so a pause always comes before the end of the turn.
        input_rate: the rate of the audio ``process`` is given: the session resamples once for the VAD
            and the STT (``InputAudioBuffer``), so it is usually the VAD's own rate and nothing is
            resampled here; another rate is resampled to the VAD's.
    """

    def __init__(
        self,
        engine: VADEngine,
        settings: TurnDetectionSettings,
        clock_ms: int,
        *,
        words: Callable[[], Awaitable[str | None]],
        judge: Callable[[str], Awaitable[float | None]],
        pause_ms: int | None = None,
        input_rate: int = 24000,
    ) -> None:
        self.settings = settings
        semantic = settings.kind is TurnDetectionKind.SEMANTIC_VAD
        window = _EAGERNESS_MS.get(settings.eagerness, 500) if semantic else settings.silence_duration_ms
        vad_window = min(window, FIRST_LOOK_MS) if semantic else window  # semantic: judged from there
        self._semantic = semantic
        self._pause_ms = None if pause_ms is None else max(10, min(pause_ms, vad_window // 2))
        self._paused = False
        self._hold_ms = min(window * 2, _MAX_WAIT_MS.get(settings.eagerness, 4000) - window)
        config = VADConfig(
            threshold=0.5 if semantic else settings.threshold,
            prefix_padding_ms=300 if semantic else settings.prefix_padding_ms,
            silence_duration_ms=vad_window,
        )
        self._stream: VADStream = engine.create_stream(config)
        rate = self._stream.sample_rate
        self._resampler = StreamResampler(input_rate, rate, quality="QQ") if rate != input_rate else None
        self._base_ms = clock_ms
        self._judge = EndOfTurnJudge(words, judge, settings.eagerness, window)
        self._state = SpeechState.IDLE
        self._stop_ms = 0
        self._deadline_ms: int | None = None
        self._idle_from_ms: int | None = None

    @property
    def state(self) -> SpeechState:
        """Current speech state."""
        return self._state

    @property
    def paused(self) -> bool:
        """Whether the user is in a pause (``PAUSED`` reported, no ``RESUMED`` yet)."""
        return self._paused

    def _set_state(self, new: SpeechState) -> None:
        check_move("turn detector", self._state, new)
        self._state = new

    def start_idle_clock(self, clock_ms: int) -> None:
        """A response finished at clock time ``clock_ms``: idle time counts from here."""
        if self.settings.idle_timeout_ms is not None:
            self._idle_from_ms = clock_ms

    async def process(self, audio: bytes, clock_ms: int) -> list[TurnEvent]:
        """Feed appended audio (at ``input_rate``); ``clock_ms`` is the clock after it.

        Returns the decisions, in order.
        """
        pcm = self._resampler.process(audio) if self._resampler is not None else audio
        decisions: list[TurnEvent] = []
        for event in self._stream.process(pcm):
            at = self._base_ms + event.audio_ms
            if event.type is VADEventType.SPEECH_STARTED:
                self._idle_from_ms = None
                if self._state is SpeechState.ENDING:
                    self._set_state(SpeechState.SPEAKING)  # the same turn goes on
                    self._deadline_ms = None
                    self._judge.cancel()
                elif self._state is SpeechState.IDLE:
                    self._set_state(SpeechState.SPEAKING)
                    decisions.append(TurnEvent(TurnEventType.SPEECH_STARTED, at))
            elif self._state is SpeechState.SPEAKING:
                self._stop_ms = at
                if self._semantic:
                    self._set_state(SpeechState.ENDING)
                    self._deadline_ms = at + self._window_ms() + self._hold_ms
                    if not self._judge.asked:  # not already judged from the pause
                        self._judge.start()
                else:
                    self._set_state(SpeechState.IDLE)
                    decisions.append(TurnEvent(TurnEventType.SPEECH_STOPPED, at))
        decisions.extend(self._pause_events(clock_ms))
        if self._state is SpeechState.ENDING and (
            self._judge.verdict(clock_ms - self._stop_ms)
            or (self._deadline_ms is not None and clock_ms >= self._deadline_ms)
        ):
            self._set_state(SpeechState.IDLE)
            self._deadline_ms = None
            self._judge.cancel()
            decisions.append(TurnEvent(TurnEventType.SPEECH_STOPPED, self._stop_ms))
        timeout = self.settings.idle_timeout_ms
        if (
            timeout is not None
            and self._idle_from_ms is not None
            and self._state is SpeechState.IDLE
            and clock_ms - self._idle_from_ms >= timeout
        ):
            decisions.append(TurnEvent(TurnEventType.IDLE_TIMEOUT, clock_ms, start_ms=self._idle_from_ms))
            self._idle_from_ms = None
        return decisions

    def _pause_events(self, clock_ms: int) -> list[TurnEvent]:
        """``PAUSED`` once per pause of ``pause_ms`` inside a turn; ``RESUMED`` when speech follows it."""
        if self._pause_ms is None:
            return []
        silence = self._stream.trailing_silence_ms
        if silence is None:
            return []
        if self._state is SpeechState.SPEAKING:
            if not self._paused and silence >= self._pause_ms:
                self._paused = True
                if self._semantic:
                    self._judge.start()  # the first look's judgement, ready sooner
                return [TurnEvent(TurnEventType.PAUSED, clock_ms)]
            if self._paused and silence < self._pause_ms:
                self._paused = False
                self._judge.cancel()
                return [TurnEvent(TurnEventType.RESUMED, clock_ms)]
        elif self._state is SpeechState.IDLE:
            self._paused = False  # the turn ended (its pause became the end of the turn)
        return []

    async def judged(self) -> None:
        """Wait until semantic VAD's judgement in flight, if any, is over (never raises)."""
        await self._judge.judged()

    def _window_ms(self) -> int:
        return _EAGERNESS_MS.get(self.settings.eagerness, 500)

    def reset(self, clock_ms: int) -> None:
        """Forget the current turn (after a manual commit or clear); the VAD restarts at ``clock_ms``."""
        self._stream.reset()
        self._base_ms = clock_ms
        self._state = SpeechState.IDLE
        self._deadline_ms = None
        self._paused = False
        self._judge.cancel()

    async def aclose(self) -> None:
        """Give the VAD stream back; end the judgement in flight."""
        await self._judge.aclose()
        await self._stream.aclose()

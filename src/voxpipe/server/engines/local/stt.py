"""Speech-to-text with faster-whisper on Whisper tiny.en (CTranslate2, int8, CPU).

Incremental transcription: while the user speaks, the stream re-transcribes what it has in the background
every ``step_ms`` of new audio, and as soon as the speaker pauses (``pause_ms`` of near-silence), one pass
at a time. Those passes give ``partial`` text, and when a pass
returns several segments all but the last are committed: their text is kept and their audio dropped, so
later passes only see the tail. At ``finish`` the last pass is reused when everything fed after it is
near-silence (the usual case: the VAD ends a turn after ``silence_duration_ms`` of silence, and the pass
started at the pause has had that long to run), otherwise the uncommitted audio is transcribed again.

A short window: Whisper pads every input to 30 s, and on 2 cores encoding those 30 s is about 80% of a
pass (about 0.9 s of 1.1 s under load, whatever the speech length; the decoder takes 0.1-0.25 s). Audio
that fits in ``window_s`` (10 s) with a second to spare is encoded in a 10 s window instead (the padded
features cut to 1000 frames; CTranslate2 takes any length up to 3000): about 0.1-0.2 s, and on the
fixtures the same words (``bench/stt_settings.py``). Shorter windows, or windows cut to the speech plus a
little silence, make tiny.en repeat itself ("Front, left, left, left ..."), so the window is fixed.
faster-whisper's own ``chunk_length`` does not do this: it still pads each chunk to 3000 frames (and it
changes the shared feature extractor for later calls).

The short window decodes with beam 2 and ends the beam search when its first hypothesis ends
(``first_hypothesis``: faster-whisper's ``patience`` of ``1 / beam``; by default CTranslate2 goes on until
``beam`` hypotheses have ended, steps that change nothing once the best has). Over the fixtures, the
clips joined from them and 6 Opus-coded copies of each (``bench/stt_settings.py --opus 6 --repeats 2``,
settings in turn on each clip; two runs, load 0.4-2.4) it heard exactly what beam 5 heard (word errors
clean 2/64, Opus 16/252, the same misses) in a pass p50 of 186 ms against 213, and 170 against 186
(decoder 84-88 ms against 100-112; the encoder's 87-101 ms the same). Measured beside them, all in the
10 s window (beam 5 at 186-213 ms in the same runs):

- beam 3 ending at its first hypothesis: the same words, 180-202 ms (three runs);
- beam 2 or 3 waiting for every hypothesis: "Front left." (with the half second of silence a pass at
  the end of a turn sees) became "Front, left, left, left, ..." to the decoder's length limit (112 word
  errors on the clean set), the Opus set as beam 5; 171-203 ms;
- beam 5 with ``patience`` 0.2 or 0.5, or ``length_penalty`` 0 (CTranslate2 then stops when the top beam
  ends, and scores are no longer normalised by length): the same words, 196-211 ms (beam 5's own
  201-213 in those runs: no gain);
- ``without_timestamps=True``: beam 5 187-199 ms, beam 3 178-187, but more word errors
  (clean 10/64, Opus 18/252: "The weather like in Paris today.", one more "capital and friends"), and it
  makes one segment a window, so ``_apply`` (which commits closed segments by their ends) would never
  commit and a long turn would go to the 30 s window: not used.

The rest of ``transcribe``'s options cost nothing here: one temperature (0) means no fallback decodes,
``best_of`` only counts for sampling, and ``condition_on_previous_text`` only between 30 s windows. The
30 s window (audio over 9 s that no commit shortened) keeps beam 5 and every hypothesis (not measured
with less). Greedy decoding (``beam_size`` 1) hears the clean fixtures as well in the short window for
about 0.05-0.1 s less a pass, but not speech that came through a browser: over Opus-coded copies of the
fixtures (``bench/stt_settings.py --opus 6``) greedy heard "What is the capital of France?" as "What is
the capital and friends?" in 2 of 6, beam 5 in none; the browser test caught it. In the 30 s window
greedy also heard "What's the weather like in Paris today?" as "But whenever I can Paris today".

numpy's BLAS is held to one thread (``blas_threads``) when the model loads: faster-whisper computes the
log-mel features with a numpy matrix product, which OpenBLAS (numpy's wheels) spreads over a pool thread
per core, and that thread then spins (``sched_yield``) waiting for more work for a good part of the
pass, on the core one of CTranslate2's two threads needs. Whisper passes took 165-265 ms with it and
90-130 ms without it (the same clip, 2 cores, load 1-2); in the server the pass p50 fell from 164-176 ms to
119-128 ms. The product itself is tiny (80 x 201 by 201 x 1000): one thread loses nothing.

tiny.en is English-only. A ``language`` other than ``en`` is logged once per stream and ignored: the
model then writes invented English ("Thank you for watching"), and the transcript says ``language="en"``.
Every Whisper call runs in the engine's single worker thread, so sessions queue rather than fight over
the two cores, and the event loop never runs a model. The queue has priorities
(``_priority_worker.py``): a pass somebody waits for (a snapshot, ``finish``) runs before every
session's background passes, so one session's partials never delay another's end of turn.
A pass at a pause goes before the background ones too (``SOON``), but nobody waits for it yet: most
pauses are gaps between words, and only a pause that lasts becomes the session's speculation, which then
waits for the pass (a snapshot promotes it). Passes nobody waits for wait (up to ``max_hold_s``) while
another session's answer makes its first words (``hold_background``: the fair-share scheduler's
``making_head``): with 3 sessions at once they took 0.3-0.6 of a core then, most of them at gaps between
words. A held pass that misses audio fed since is replaced by one over everything fed when a pass is
wanted (a pause, a snapshot, ``finish``): the 10 s window costs the same whatever the audio's length.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxpipe.audio import pcm16_to_float32
from voxpipe.errors import VoxpipeStateError
from voxpipe.server.engines.base import (
    STTCapabilities,
    STTEngine,
    STTStream,
    Transcript,
    TranscriptionOptions,
)
from voxpipe.server.engines.local._busy import BusyEngines
from voxpipe.server.engines.local._errors import model_errors
from voxpipe.server.engines.local._priority_worker import Priority, PriorityWorker
from voxpipe.server.engines.local.models import whisper_tiny_en_path

__all__ = ["WhisperSTTEngine"]

logger = logging.getLogger(__name__)

_RATE = 16_000
_FRAMES_PER_S = 100  # Whisper's log-mel frames (10 ms hop)
_FULL_WINDOW_S = 30


@dataclass(frozen=True, slots=True)
class _Pass:
    """One Whisper run over the uncommitted audio ``[0, end)``: the committed part and the rest."""

    end: int  # samples of the uncommitted buffer covered
    committed_text: str  # text of segments that ended before ``cut``
    cut: int  # samples that may be dropped from the buffer's start
    tail_text: str  # text of the last segment (may change as more audio arrives)


class WhisperSTTEngine(STTEngine):
    """Whisper tiny.en via faster-whisper; loads on first use (about 0.5 s).

    Args:
        cpu_threads: CTranslate2 threads per call (2 on a 2-core machine).
        beam_size: beam width in the short window: 2, which with ``first_hypothesis`` hears what beam 5
            (Whisper's default) hears for 10-30 ms less a pass; 1 (greedy) saves 0.05-0.1 s a pass but
            mishears Opus-coded speech (see the module docstring).
        first_hypothesis: in the short window the beam search ends when its first hypothesis ends
            (faster-whisper's ``patience`` of ``1 / beam_size``), not after ``beam_size`` of them: the
            others only made words after the answer was known, and beam 2 or 3 without it can loop
            ("Front, left, left, left, ...").
        full_window_beam_size: beam width in the 30 s window, for audio longer than the short one
            (every hypothesis finishes there: not measured otherwise).
        window_s: the short window in seconds (audio up to ``window_s - 1`` s uses it); 30 or 0: always
            the full 30 s window (Whisper's own behaviour, five times slower).
        step_ms: while audio arrives, a background pass per this much new audio.
        prioritise: waited-for passes before background ones (False: first come, first served, as a
            plain single-worker executor; for A/B figures in ``bench/voice_latency.py``).
        pause_ms: near-silence after speech that starts a pass at once (the likely end of the turn), so
            the transcript is under way when the session's speculation starts (at its own pause, 100 ms
            of VAD silence by default: it waits for this pass rather than starting another) and ready long
            before a 500 ms VAD window ends. 60 ms: semantic VAD's judgement needs this pass's words, so
            the pass starts the chain to a quick answer; at 100 ms it started 40 ms later for the same
            words (``bench/voice_latency.py --rounds 3 --mode semantic_vad:high``, 12 question turns
            each, load 0.3-0.9: the pass started 42 ms after the end of the user's audio against 82, the
            judgement ended at 317 against 347 ms, p50; with the session reading the words ahead as soon
            as a pass has them, ``SpeculationSettings.prefill_every_ms``). It costs passes at gaps
            between words: 36 against 21 over 21 turns of the speech fixtures, 63 in all against 57.
        blas_threads: numpy's BLAS threads, set for the whole process when the model loads (see the
            module docstring); None leaves them as they are.
        hold_background: called from the worker thread; True while background passes should wait
            (another answer's head is in the making), at most ``max_hold_s`` each; None: never.
        max_hold_s: longest hold of a background pass.
        busy: shared with the LLM engine, which borrows a core only while no other engine computes
            (``_busy``).
    """

    capabilities = STTCapabilities(sample_rate=_RATE, partials=True, languages=frozenset({"en"}))
    sample_rate = _RATE

    def __init__(
        self,
        cpu_threads: int = 2,
        beam_size: int = 2,
        *,
        first_hypothesis: bool = True,
        step_ms: int = 1000,
        pause_ms: int = 60,
        window_s: int = 10,
        full_window_beam_size: int = 5,
        prioritise: bool = True,
        blas_threads: int | None = 1,
        hold_background: Callable[[], bool] | None = None,
        max_hold_s: float = 2.0,
        busy: BusyEngines | None = None,
    ) -> None:
        self._cpu_threads = cpu_threads
        self._busy = busy
        self._beam_size = beam_size
        self._first_hypothesis = first_hypothesis
        self._full_beam_size = full_window_beam_size
        self._window_s = window_s if 0 < window_s < _FULL_WINDOW_S else _FULL_WINDOW_S
        self._step_ms = step_ms
        self._pause_ms = pause_ms
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._worker = PriorityWorker("voxpipe-whisper", hold_background, max_hold_s)
        self._prioritise = prioritise
        self._blas_threads = blas_threads

    def _load(self) -> Any:
        with self._load_lock:
            if self._model is None:
                started = time.perf_counter()
                if self._blas_threads is not None:
                    limit_blas_threads(self._blas_threads)
                with model_errors("loading Whisper tiny.en", recoverable=False):
                    # imported here, not at module level: faster-whisper pulls in CTranslate2, which
                    # ``import voxpipe.server`` should not pay for
                    from faster_whisper import WhisperModel

                    self._model = _windowed_model_class(WhisperModel)(
                        str(whisper_tiny_en_path()),
                        device="cpu",
                        compute_type="int8",
                        cpu_threads=self._cpu_threads,
                        local_files_only=True,
                    )
                logger.info("loaded Whisper tiny.en in %.2f s", time.perf_counter() - started)
            return self._model

    def window_for(self, samples: int) -> tuple[int, int, float]:
        """The window (seconds), beam width and beam patience a pass over ``samples`` of 16 kHz audio uses.

        The beam search ends after ``round(beam * patience)`` finished hypotheses (CTranslate2).
        """
        if self._window_s < _FULL_WINDOW_S and samples <= (self._window_s - 1) * _RATE:
            patience = 1 / self._beam_size if self._first_hypothesis else 1.0
            return self._window_s, self._beam_size, patience
        return _FULL_WINDOW_S, self._full_beam_size, 1.0

    def _run(self, audio: np.ndarray, prompt: str | None) -> list[Any]:
        """Transcribe float32 16 kHz audio into segments; runs in the worker thread."""
        model = self._load()
        window_s, beam_size, patience = self.window_for(audio.size)
        with (
            model_errors("Whisper transcription"),
            self._busy.computing("stt") if self._busy else nullcontext(),
        ):
            model.window_frames = window_s * _FRAMES_PER_S  # only this thread runs the model
            segments, _info = model.transcribe(
                audio,
                language="en",
                beam_size=beam_size,
                patience=patience,
                temperature=0.0,
                initial_prompt=prompt or None,
                condition_on_previous_text=False,
                vad_filter=False,
                without_timestamps=False,
            )
            return list(segments)

    def submit(
        self, audio: np.ndarray, prompt: str | None, priority: Priority = Priority.URGENT
    ) -> Future[list[Any]]:
        """Queue a transcription on the worker thread (for streams); urgent passes go first."""
        if not self._prioritise:
            priority = Priority.URGENT
        return self._worker.submit(lambda: self._run(audio, prompt), priority)

    def promote(self, future: Future[list[Any]]) -> None:
        """Somebody now waits for this queued pass: run it before the background ones."""
        self._worker.promote(future, Priority.URGENT)

    def withdraw(self, future: Future[list[Any]]) -> bool:
        """Drop a pass that has not started (True), so a fresher one can take its place."""
        return future.cancel()

    async def warm_up(self) -> None:
        """Load the model and run one pass on silence: CTranslate2's first call is slower (allocations)."""
        await asyncio.wrap_future(self._worker.submit(self._prime))

    def _prime(self) -> None:
        self._load()
        started = time.perf_counter()
        silence = np.zeros(_RATE // 2, dtype=np.float32)
        self._run(silence, None)  # the short window
        self._run(np.zeros(self._window_s * _RATE, dtype=np.float32), None)  # the full one
        logger.info("primed Whisper in %.2f s", time.perf_counter() - started)

    def create_stream(self, options: TranscriptionOptions) -> STTStream:
        return _WhisperStream(self, options, step_ms=self._step_ms, pause_ms=self._pause_ms)

    async def transcribe(self, pcm16: bytes, options: TranscriptionOptions) -> Transcript:
        stream = _WhisperStream(self, options, step_ms=None)
        try:
            stream.feed(pcm16)
            return await stream.finish()
        finally:
            await stream.aclose()

    async def aclose(self) -> None:
        await asyncio.to_thread(self._worker.shutdown)


class _WhisperStream(STTStream):
    """One utterance; background passes are futures it owns and awaits in ``finish``/``aclose``."""

    sample_rate = _RATE

    def __init__(
        self,
        engine: WhisperSTTEngine,
        options: TranscriptionOptions,
        step_ms: int | None = 1000,
        pause_ms: int = 60,
        silence_peak: float = 0.02,
    ) -> None:
        self._engine = engine
        self._options = options
        self._step = None if step_ms is None else step_ms * _RATE // 1000
        self._pause = pause_ms * _RATE // 1000
        self._silence_peak = silence_peak
        self._quiet_run = 0  # samples of near-silence at the end of what was fed
        self._voiced_end = 0  # just past the last loud sample, in uncommitted-buffer samples
        self._chunks: list[np.ndarray] = []
        self._buffer = np.zeros(0, dtype=np.float32)  # uncommitted audio
        self._fed = 0  # samples fed since the last commit
        self._committed: list[str] = []
        self._pending: Future[list[Any]] | None = None
        self._pending_end = 0
        self._pending_priority = Priority.URGENT
        self._last: _Pass | None = None
        self._finished = False
        self._total_samples = 0
        if options.language not in (None, "en"):
            logger.warning(
                "Whisper tiny.en is English-only; language %r is ignored (expect English text)",
                options.language,
            )

    def feed(self, pcm16: bytes) -> None:
        """Append audio; start a background pass every ``step_ms``, or at once when the speaker pauses."""
        if self._finished:
            raise VoxpipeStateError("STT stream: feed() after finish(); start a new stream per utterance")
        samples = pcm16_to_float32(pcm16)
        self._chunks.append(samples)
        self._fed += samples.size
        self._total_samples += samples.size
        loud = np.flatnonzero(np.abs(samples) >= self._silence_peak)
        if loud.size:
            # the pause runs from the last loud sample, not from the end of its chunk: the silence at the
            # end of a client's chunk counts, so where the chunks do not divide pause_ms (40 ms chunks,
            # 100 ms pause) the pass starts a chunk sooner in about half the turns
            self._quiet_run = samples.size - 1 - int(loud[-1])
            self._voiced_end = self._fed - self._quiet_run
        else:
            self._quiet_run += samples.size
        self._collect()
        self._maybe_start()

    def _maybe_start(self) -> None:
        """Start a background pass if one is due and none is running."""
        if self._step is None:
            return
        pending_background = self._pending is not None and self._pending_priority is Priority.BACKGROUND
        if pending_background and self._quiet_run >= self._pause:
            self._withdraw_stale()  # a pause: a pass over everything replaces it
        if self._pending is not None:
            return
        # a pause after speech the last pass did not hear: likely the end of the turn, so transcribe now
        # and the VAD's silence window (usually longer) hides the pass; finish() then reuses it
        paused = self._quiet_run >= self._pause and self._covered() < self._voiced_end
        if paused:
            self._start_pass(Priority.SOON)  # the session's speculation may wait for it
        elif self._fed - self._covered() >= self._step:
            self._start_pass(Priority.BACKGROUND)

    def _withdraw_stale(self) -> None:
        """Drop a pass still queued (held back) that misses audio fed since: a pass over everything
        takes its place, for the same cost."""
        pending = self._pending
        if pending is not None and self._pending_end < self._fed and self._engine.withdraw(pending):
            self._pending = None

    def _covered(self) -> int:
        return self._last.end if self._last else 0

    def _audio(self) -> np.ndarray:
        if self._chunks:
            self._buffer = np.concatenate([self._buffer, *self._chunks])
            self._chunks.clear()
        return self._buffer

    def _prompt(self) -> str | None:
        parts = [p for p in (self._options.prompt, " ".join(self._committed)) if p]
        return " ".join(parts) or None

    def _start_pass(self, priority: Priority) -> Future[list[Any]]:
        audio = self._audio()
        self._pending_end = audio.size
        self._pending_priority = priority
        self._pending = self._engine.submit(audio, self._prompt(), priority)
        return self._pending

    def _collect(self) -> None:
        """Take a finished background pass: remember it, commit its closed segments."""
        if self._pending is None or not self._pending.done():
            return
        future, self._pending = self._pending, None
        if future.cancelled():  # cancelled by aclose: nothing to take
            return
        self._apply(future.result(), self._pending_end)

    def _apply(self, segments: list[Any], end: int) -> None:
        committed = [s for s in segments[:-1] if s.end * _RATE < end - _RATE // 2]
        cut = int(committed[-1].end * _RATE) if committed else 0
        tail = [s for s in segments if s not in committed]
        self._last = _Pass(
            end=end,
            committed_text=" ".join(s.text.strip() for s in committed),
            cut=cut,
            tail_text=" ".join(s.text.strip() for s in tail),
        )
        if cut:
            self._committed.append(self._last.committed_text)
            self._buffer = self._audio()[cut:]
            self._fed -= cut
            self._voiced_end = max(self._voiced_end - cut, 0)
            self._last = _Pass(end - cut, "", 0, self._last.tail_text)

    async def partial(self) -> str | None:
        self._collect()
        if not self._finished:
            self._maybe_start()
        if self._last is None and not self._committed:
            return None
        tail = self._last.tail_text if self._last else ""
        return " ".join(p for p in (*self._committed, tail) if p).strip() or None

    async def snapshot(self) -> str | None:
        """The text of everything fed so far, by the same rule as ``finish``, leaving the stream open."""
        return await self._settle()

    async def finish(self) -> Transcript:
        """Wait for a running pass; run one more over the uncommitted audio unless all it missed is silence.

        Every pass is kept in ``_pending`` so that ``aclose`` waits for it even if this is cancelled.
        """
        self._finished = True
        text = await self._settle()
        return Transcript(text=text, language="en", duration_s=self._total_samples / _RATE)

    async def _settle(self) -> str:
        """Wait for passes until one covers every sound fed; several callers share the passes."""
        while True:
            self._withdraw_stale()
            while self._pending is not None:  # feed() or another caller may start one meanwhile
                self._engine.promote(self._pending)  # a background pass we now wait for
                # shielded: a caller that gives up (a dropped speculation) must not cancel the pass that
                # the stream and its other callers still need
                await asyncio.shield(asyncio.wrap_future(self._pending))
                self._collect()
            rest = self._audio()[self._covered() :]
            heard_all = not (rest.size and float(np.max(np.abs(rest))) >= self._silence_peak)
            if self._last is not None and heard_all:
                break
            self._start_pass(Priority.URGENT)
        tail = self._last.tail_text if self._last else ""
        return " ".join(p for p in (*self._committed, tail) if p).strip()

    async def aclose(self) -> None:
        self._finished = True
        future, self._pending = self._pending, None
        if future is not None and not future.cancel():
            await asyncio.wrap_future(future)


def limit_blas_threads(threads: int) -> None:
    """Hold numpy's BLAS (and any other BLAS loaded in the process) to ``threads`` threads from now on."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")
    logger.debug("BLAS held to %d thread(s)", threads)


@functools.cache
def _windowed_model_class(whisper_model: type) -> type:
    """faster-whisper's ``WhisperModel`` with the encoder input cut to ``window_frames``.

    faster-whisper pads each window's features to 3000 frames (30 s) just before ``encode``; cutting
    there (not earlier) keeps its seeking and timestamps as they are. Cached per base class, not once:
    a subclass made of whatever ``WhisperModel`` was importable first (a test's stand-in, say) must not
    outlive it.
    """

    class WindowedWhisperModel(whisper_model):
        window_frames = _FULL_WINDOW_S * _FRAMES_PER_S

        def encode(self, features: np.ndarray) -> Any:
            if features.shape[-1] > self.window_frames:
                features = features[..., : self.window_frames]
            return super().encode(features)

    return WindowedWhisperModel

"""Speech-to-text with faster-whisper on Whisper tiny.en (CTranslate2, int8, CPU).

Incremental transcription: while the user speaks, the stream re-transcribes what it has in the background
every ``step_ms`` of new audio, and as soon as the speaker pauses (``pause_ms`` of near-silence), one pass
at a time. Those passes give ``partial`` text, and when a pass
returns several segments all but the last are committed: their text is kept and their audio dropped, so
later passes only see the tail. At ``finish`` the last pass is reused when everything fed after it is
near-silence (the usual case: the VAD ends a turn after ``silence_duration_ms`` of silence, and the pass
started at the pause has had that long to run), otherwise the uncommitted audio is transcribed again.
Each pass costs about 0.4 s on 2 cores whatever the length (Whisper always encodes a 30 s window).

tiny.en is English-only. A ``language`` other than ``en`` is logged once per stream and ignored: the
model then writes invented English ("Thank you for watching"), and the transcript says ``language="en"``.
Every Whisper call runs in the engine's single worker thread, so sessions queue rather than fight over
the two cores, and the event loop never runs a model.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
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
from voxpipe.server.engines.local._errors import model_errors
from voxpipe.server.engines.local.models import whisper_tiny_en_path

__all__ = ["WhisperSTTEngine"]

logger = logging.getLogger(__name__)

_RATE = 16_000


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
        beam_size: beam width. 5 (Whisper's default) by default: greedy decoding (1) is about 0.2 s
            faster on a 3 s clip but heard "What's the weather like in Paris today?" as "But when
            they're liking Paris today."
        step_ms: while audio arrives, a background pass per this much new audio (each costs ~0.4 s).
        pause_ms: near-silence after speech that starts a pass at once (the likely end of the turn).
            100 ms: a pass takes ~0.45 s, so one started 100 ms into the pause is done about when a
            500 ms VAD window ends (with 200 ms the transcript came ~50 ms after ``speech_stopped`` at
            p50 and 250 ms at p95 in ``bench/voice_latency.py``; with 100 ms, 0 and 120 ms).
    """

    capabilities = STTCapabilities(sample_rate=_RATE, partials=True, languages=frozenset({"en"}))
    sample_rate = _RATE

    def __init__(
        self, cpu_threads: int = 2, beam_size: int = 5, step_ms: int = 1000, pause_ms: int = 100
    ) -> None:
        self._cpu_threads = cpu_threads
        self._beam_size = beam_size
        self._step_ms = step_ms
        self._pause_ms = pause_ms
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voxpipe-whisper")

    def _load(self) -> Any:
        with self._load_lock:
            if self._model is None:
                started = time.perf_counter()
                with model_errors("loading Whisper tiny.en", recoverable=False):
                    from faster_whisper import WhisperModel

                    self._model = WhisperModel(
                        str(whisper_tiny_en_path()),
                        device="cpu",
                        compute_type="int8",
                        cpu_threads=self._cpu_threads,
                        local_files_only=True,
                    )
                logger.info("loaded Whisper tiny.en in %.2f s", time.perf_counter() - started)
            return self._model

    def _run(self, audio: np.ndarray, prompt: str | None) -> list[Any]:
        """Transcribe float32 16 kHz audio into segments; runs in the worker thread."""
        model = self._load()
        with model_errors("Whisper transcription"):
            segments, _info = model.transcribe(
                audio,
                language="en",
                beam_size=self._beam_size,
                temperature=0.0,
                initial_prompt=prompt or None,
                condition_on_previous_text=False,
                vad_filter=False,
                without_timestamps=False,
            )
            return list(segments)

    def submit(self, audio: np.ndarray, prompt: str | None) -> Future[list[Any]]:
        """Queue a transcription on the worker thread (for streams)."""
        return self._executor.submit(self._run, audio, prompt)

    async def warm_up(self) -> None:
        """Load the model and run one pass on silence: CTranslate2's first call is slower (allocations)."""
        await asyncio.wrap_future(self._executor.submit(self._prime))

    def _prime(self) -> None:
        self._load()
        started = time.perf_counter()
        self._run(np.zeros(_RATE // 2, dtype=np.float32), None)
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
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)


class _WhisperStream(STTStream):
    """One utterance; background passes are futures it owns and awaits in ``finish``/``aclose``."""

    sample_rate = _RATE

    def __init__(
        self,
        engine: WhisperSTTEngine,
        options: TranscriptionOptions,
        step_ms: int | None = 1000,
        pause_ms: int = 100,
        silence_peak: float = 0.02,
    ) -> None:
        self._engine = engine
        self._options = options
        self._step = None if step_ms is None else step_ms * _RATE // 1000
        self._pause = pause_ms * _RATE // 1000
        self._silence_peak = silence_peak
        self._quiet_run = 0  # samples of near-silence at the end of what was fed
        self._voiced_end = 0  # end of the last chunk with sound, in uncommitted-buffer samples
        self._chunks: list[np.ndarray] = []
        self._buffer = np.zeros(0, dtype=np.float32)  # uncommitted audio
        self._fed = 0  # samples fed since the last commit
        self._committed: list[str] = []
        self._pending: Future[list[Any]] | None = None
        self._pending_end = 0
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
        if samples.size and float(np.max(np.abs(samples))) >= self._silence_peak:
            self._quiet_run = 0
            self._voiced_end = self._fed
        else:
            self._quiet_run += samples.size
        self._collect()
        self._maybe_start()

    def _maybe_start(self) -> None:
        """Start a background pass if one is due and none is running."""
        if self._step is None or self._pending is not None:
            return
        # a pause after speech the last pass did not hear: likely the end of the turn, so transcribe now
        # and the VAD's silence window (usually longer) hides the pass; finish() then reuses it
        paused = self._quiet_run >= self._pause and self._covered() < self._voiced_end
        if paused or self._fed - self._covered() >= self._step:
            self._start_pass()

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

    def _start_pass(self) -> Future[list[Any]]:
        audio = self._audio()
        self._pending_end = audio.size
        self._pending = self._engine.submit(audio, self._prompt())
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
            while self._pending is not None:  # feed() or another caller may start one meanwhile
                # shielded: a caller that gives up (a dropped speculation) must not cancel the pass that
                # the stream and its other callers still need
                await asyncio.shield(asyncio.wrap_future(self._pending))
                self._collect()
            rest = self._audio()[self._covered() :]
            heard_all = not (rest.size and float(np.max(np.abs(rest))) >= self._silence_peak)
            if self._last is not None and heard_all:
                break
            self._start_pass()
        tail = self._last.tail_text if self._last else ""
        return " ".join(p for p in (*self._committed, tail) if p).strip()

    async def aclose(self) -> None:
        self._finished = True
        future, self._pending = self._pending, None
        if future is not None and not future.cancel():
            await asyncio.wrap_future(future)

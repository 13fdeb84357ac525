"""An energy VAD with exact, sample-counted timing: speech is whatever is loud enough.

Audio is cut into 10 ms frames. A frame's speech "probability" is ``min(1, rms / 0.04)`` with ``rms`` as a
fraction of full scale, so the protocol's default ``threshold`` of 0.5 means RMS of at least 2 % of full
scale (about -34 dBFS); the tones of the test TTS (RMS 21 %) are speech, digital silence is not. Times
are counted in samples, so a test can predict every ``audio_start_ms`` and ``audio_end_ms`` exactly:

* start = first speech frame's start - ``prefix_padding_ms`` (never below 0 or the previous stop);
* stop = end of the last speech frame, reported once ``silence_duration_ms`` of silent frames followed.
"""

from __future__ import annotations

import enum

import numpy as np

from voxpipe.server.engines.base import VADEngine, VADStream
from voxpipe.server.engines.types import VADConfig, VADEvent, VADEventType

__all__ = ["EnergyVADEngine", "EnergyVADStream"]

_FRAME_MS = 10
_FULL_SCALE_RMS = 0.04  # RMS (fraction of full scale) that counts as probability 1


class _Phase(enum.Enum):
    SILENCE = "silence"
    SPEECH = "speech"


class EnergyVADStream(VADStream):
    """Per-session state of the energy VAD (see the module docstring)."""

    def __init__(self, config: VADConfig, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._config = config
        self._frame_bytes = sample_rate * _FRAME_MS // 1000 * 2
        self._pending = bytearray()
        self._phase = _Phase.SILENCE
        self._frames = 0  # frames consumed since the last reset
        self._silent_frames = 0
        self._last_speech_end_ms = 0
        self._last_stop_ms = 0
        # threshold on the mean square of int16 samples, so a frame costs one dot product
        level = config.threshold * _FULL_SCALE_RMS * 32768.0
        self._min_mean_square = level * level

    def process(self, pcm16: bytes) -> list[VADEvent]:
        """Feed audio; return the starts and stops it completed."""
        self._pending += pcm16
        events: list[VADEvent] = []
        usable = len(self._pending) // self._frame_bytes * self._frame_bytes
        if not usable:
            return events
        samples = np.frombuffer(bytes(self._pending[:usable]), dtype="<i2").astype(np.float32)
        del self._pending[:usable]
        frames = samples.reshape(-1, self._frame_bytes // 2)
        loud = np.einsum("ij,ij->i", frames, frames) / frames.shape[1] >= self._min_mean_square
        silence_frames = max(1, self._config.silence_duration_ms // _FRAME_MS)
        for is_speech in loud.tolist():
            start_ms = self._frames * _FRAME_MS
            self._frames += 1
            if is_speech:
                self._silent_frames = 0
                self._last_speech_end_ms = start_ms + _FRAME_MS
                if self._phase is _Phase.SILENCE:
                    self._phase = _Phase.SPEECH
                    begin = max(0, self._last_stop_ms, start_ms - self._config.prefix_padding_ms)
                    events.append(VADEvent(VADEventType.SPEECH_STARTED, begin))
            elif self._phase is _Phase.SPEECH:
                self._silent_frames += 1
                if self._silent_frames >= silence_frames:
                    self._phase = _Phase.SILENCE
                    self._last_stop_ms = self._last_speech_end_ms
                    events.append(VADEvent(VADEventType.SPEECH_STOPPED, self._last_speech_end_ms))
        return events

    @property
    def trailing_silence_ms(self) -> int:
        """Silent frames since the last speech frame of the open segment, in ms (0 outside speech)."""
        return self._silent_frames * _FRAME_MS if self._phase is _Phase.SPEECH else 0

    def reset(self) -> None:
        """Forget speech state and restart the clock at 0."""
        self._pending.clear()
        self._phase = _Phase.SILENCE
        self._frames = 0
        self._silent_frames = 0
        self._last_speech_end_ms = 0
        self._last_stop_ms = 0


class EnergyVADEngine(VADEngine):
    """Makes ``EnergyVADStream``s; works at 24 kHz so the session needs no resampler for it."""

    def __init__(self, sample_rate: int = 24000) -> None:
        self.sample_rate = sample_rate

    def create_stream(self, config: VADConfig) -> VADStream:
        """A fresh stream for ``config``."""
        return EnergyVADStream(config, self.sample_rate)

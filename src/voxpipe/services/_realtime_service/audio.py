"""Audio on both sides of a realtime session: pipeline frames in any format <-> the session's wire format.

The protocol's audio formats are PCM16 mono at 24 kHz, or G.711 μ-law / A-law mono at 8 kHz. Input frames
may come at any rate and channel count (a 16 kHz microphone, a 48 kHz stereo browser track, an 8 kHz phone
line); they are resampled as a stream (no clicks at frame edges), encoded, and batched into appends of
about 100 ms, which keeps the event rate low without adding noticeable delay. The encoder also counts the
audio it made and where its last audio louder than near-silence ended, so the service can tell how long
the user has been near-silent (a turn the server's VAD opened and never closed, see
:class:`~voxpipe.services._realtime_service.state.UserTurn`).
"""

from __future__ import annotations

import base64
import binascii
import math

import numpy as np
import numpy.typing as npt

from voxpipe.audio import (
    StreamResampler,
    alaw_decode,
    alaw_encode,
    pcm16_from_samples,
    rms_dbfs,
    ulaw_decode,
    ulaw_encode,
)
from voxpipe.errors import ServerError
from voxpipe.frames.audio import SAMPLE_WIDTH

__all__ = ["FORMAT_RATES", "NEAR_SILENCE_DBFS", "InputAudioEncoder", "OutputAudioDecoder", "format_rate"]

FORMAT_RATES = {"pcm16": 24000, "g711_ulaw": 8000, "g711_alaw": 8000}
"""Sample rate of each protocol audio format."""

NEAR_SILENCE_DBFS = -50.0
"""Input audio whose RMS level (per input frame, as sent) is at or below this is near-silence.

A voice at a normal distance from a microphone is well above it (a quiet voice is -45 to -30 dBFS); the
hiss of a quiet room, a muted or noise-suppressed microphone and telephony comfort noise are below it. It
is the level the pipeline's own VAD needs before it counts anything as speech (``VADParams.min_volume``
0.6), so audio called near-silence here is audio no VAD of ours would take for words. Louder noise (a fan,
a street) is not near-silence: it cannot be told from a quiet voice by its level."""

_ENCODERS = {"g711_ulaw": ulaw_encode, "g711_alaw": alaw_encode}
_DECODERS = {"g711_ulaw": ulaw_decode, "g711_alaw": alaw_decode}


_NEAR_SILENCE_POWER = (32768.0 * 10 ** (NEAR_SILENCE_DBFS / 20)) ** 2
"""Mean square of int16 samples at :data:`NEAR_SILENCE_DBFS` (about 10737)."""


def _louder_than_near_silence(samples: npt.NDArray[np.floating]) -> bool:
    """Whether mono ``samples`` (float, int16 scale), rounded to PCM16, read louder than near-silence.

    Exactly ``rms_dbfs(pcm16_from_samples(samples)) > NEAR_SILENCE_DBFS``, mostly without rounding: one
    dot product gives the chunk's energy, and rounding moves each square by at most ``|x| + 1/4`` (in
    all at most ``sqrt(n * energy) + n / 4``, Cauchy-Schwarz; clipping only lowers it, and a clipped
    sample alone is far above the threshold), so a chunk clear of the threshold by more than that is
    decided at once; one within it (a hair from -50 dBFS) is rounded and measured as PCM.
    """
    n = samples.shape[0]
    energy = float(samples @ samples)
    if n > 20_000 or not math.isfinite(energy):  # bounds below assume a short chunk: measure it plainly
        return rms_dbfs(pcm16_from_samples(samples)) > NEAR_SILENCE_DBFS
    low, high = energy * (1 - 2e-3), energy * (1 + 2e-3)  # float32 dot rounding (n * 2**-24 < 3e-3)
    spread = math.sqrt(n * high) + n / 4
    threshold = n * _NEAR_SILENCE_POWER
    if low - spread > threshold * (1 + 1e-6):
        return True
    if high + spread < threshold * (1 - 1e-6):
        return False
    return rms_dbfs(pcm16_from_samples(samples)) > NEAR_SILENCE_DBFS


def format_rate(audio_format: str | None) -> int:
    """The sample rate of a protocol audio format (``None`` means the default, ``pcm16``)."""
    return FORMAT_RATES[audio_format or "pcm16"]


def _bytes_per_ms(audio_format: str) -> float:
    """Wire bytes per millisecond: 48 for PCM16 at 24 kHz, 8 for G.711 at 8 kHz."""
    rate = FORMAT_RATES[audio_format]
    return rate / 1000 * (1 if audio_format in _ENCODERS else SAMPLE_WIDTH)


class InputAudioEncoder:
    """Turns input frames into base64 chunks for ``input_audio_buffer.append``.

    Args:
        audio_format: the session's ``input_audio_format``.
        batch_ms: how much audio to gather before an append.
        continues: the encoder this one replaces (the input format changed): the counts of the user's
            audio (``sent_ms``, ``loud_until_ms``) run on from it.
    """

    def __init__(
        self, audio_format: str | None, batch_ms: int = 100, *, continues: InputAudioEncoder | None = None
    ) -> None:
        self._format = audio_format or "pcm16"
        self._rate = FORMAT_RATES[self._format]
        self._encode = _ENCODERS.get(self._format)
        self._bytes_per_ms = _bytes_per_ms(self._format)
        self._bytes_per_sample = 1 if self._encode is not None else SAMPLE_WIDTH
        self._batch_bytes = int(self._bytes_per_ms * batch_ms)
        self._resamplers: dict[tuple[int, int], StreamResampler] = {}
        # Resampled chunks not yet rounded and encoded, and their size once encoded: that work is done
        # once per append (about 100 ms), not once per input frame (20 ms). Each chunk's level is
        # measured as it comes (_louder_than_near_silence), so the counts never wait for an append.
        self._unsettled: list[npt.NDArray[np.floating]] = []
        self._unsettled_bytes = 0
        self._pending = bytearray()
        self.sent_ms: float = continues.sent_ms if continues is not None else 0.0
        """Audio returned as appends so far, in ms."""
        self.loud_until_ms: float = continues.loud_until_ms if continues is not None else 0.0
        """Where (counted like ``sent_ms``) the last audio louder than :data:`NEAR_SILENCE_DBFS` ended."""

    @property
    def audio_format(self) -> str:
        """The wire format this encoder produces."""
        return self._format

    @property
    def pending_ms(self) -> float:
        """Audio gathered but not yet returned as an append."""
        return (len(self._pending) + self._unsettled_bytes) / self._bytes_per_ms

    @property
    def quiet_ms(self) -> float:
        """Near-silent audio at the end of what was returned as appends, in ms (0 while the user is loud)."""
        return max(0.0, self.sent_ms - self.loud_until_ms)

    def push(self, pcm: bytes, sample_rate: int, num_channels: int) -> list[str]:
        """Add a frame's PCM16 audio; return the base64 appends that are now complete (often none)."""
        key = (sample_rate, num_channels)
        resampler = self._resamplers.get(key)
        if resampler is None:
            resampler = StreamResampler(sample_rate, self._rate, channels=num_channels, out_channels=1)
            self._resamplers[key] = resampler
        self._gather(resampler.process_samples(pcm))
        if len(self._pending) + self._unsettled_bytes < self._batch_bytes:
            return []
        return [self._take()]

    def flush(self) -> list[str]:
        """Return what is gathered (including what the resamplers hold back), e.g. before a commit."""
        for resampler in self._resamplers.values():
            self._gather(resampler.flush_samples())
        self._settle()
        return [self._take()] if self._pending else []

    def _gather(self, samples: npt.NDArray[np.floating]) -> None:
        """Keep a resampled chunk for the next append; note where loud audio ends."""
        if not samples.shape[0]:
            return
        self._unsettled.append(samples)
        self._unsettled_bytes += samples.shape[0] * self._bytes_per_sample
        if _louder_than_near_silence(samples):
            self.loud_until_ms = self.sent_ms + self.pending_ms

    def _settle(self) -> None:
        """Round and encode the gathered chunks (together: rounding works sample by sample)."""
        chunks = self._unsettled
        if not chunks:
            return
        pcm = pcm16_from_samples(chunks[0] if len(chunks) == 1 else np.concatenate(chunks))
        self._pending += self._encode(pcm) if self._encode is not None else pcm
        chunks.clear()
        self._unsettled_bytes = 0

    def chunk_ms(self, chunk: str) -> float:
        """Duration of one base64 chunk this encoder made."""
        return len(chunk) * 3 / 4 / self._bytes_per_ms

    def reset(self) -> None:
        """Drop everything gathered and held (paused input is dropped, not buffered)."""
        self._unsettled.clear()
        self._unsettled_bytes = 0
        self._pending.clear()
        for resampler in self._resamplers.values():
            resampler.reset()

    def _take(self) -> str:
        """Everything gathered, as one base64 append."""
        self._settle()
        chunk = bytes(self._pending)
        self._pending.clear()
        self.sent_ms += len(chunk) / self._bytes_per_ms
        return base64.b64encode(chunk).decode("ascii")


class OutputAudioDecoder:
    """Turns ``response.audio.delta`` payloads into PCM16 at the session's real output rate.

    Args:
        audio_format: the session's ``output_audio_format``.
    """

    def __init__(self, audio_format: str | None) -> None:
        self._format = audio_format or "pcm16"
        self._decode = _DECODERS.get(self._format)

    @property
    def sample_rate(self) -> int:
        """The rate of the decoded PCM: 24 kHz for PCM16, 8 kHz for G.711."""
        return FORMAT_RATES[self._format]

    def decode(self, delta: str) -> bytes:
        """Decode one base64 delta to PCM16 mono.

        Raises:
            ServerError: the delta is not valid base64 or not whole PCM16 samples (recoverable).
        """
        try:
            raw = base64.b64decode(delta, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ServerError(
                f"server sent an audio delta that is not base64 ({len(delta)} chars)",
                code="invalid_audio_delta",
                recoverable=True,
            ) from exc
        if self._decode is not None:
            return self._decode(raw)
        if len(raw) % SAMPLE_WIDTH:
            raise ServerError(
                f"server sent {len(raw)} bytes of PCM16 audio, not a whole number of samples",
                code="invalid_audio_delta",
                recoverable=True,
            )
        return raw

    def duration_ms(self, pcm: bytes) -> float:
        """Duration of decoded PCM16 audio at the output rate."""
        return len(pcm) / SAMPLE_WIDTH / self.sample_rate * 1000

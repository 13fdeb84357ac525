"""Sample-rate conversion of 16-bit PCM, chunk by chunk (``StreamResampler``) or at once (``resample``).

Both run on libsoxr (``soxr``). Samples go through soxr as float32 and are rounded to int16 here, without
dither: soxr's own int16 path adds random dither, so the same audio cut into different chunks came out
different by up to 2 LSB. Through float32 the output is a pure function of the input. Streaming it in
chunks of any size gives the same bytes as ``resample`` on the whole signal (the tests check this).

Latency:
    A band-limited filter needs input from the future, so ``StreamResampler.process`` holds back the
    newest samples until enough input follows, and soxr works in blocks, so output comes in bursts (a
    20 ms chunk in may give 0 or 40 ms out). Measured with the default ``quality="HQ"`` and 20 ms chunks:

    ============================================  ===========  =========  ==================
    conversion                                    mean lag     max lag    first output after
    ============================================  ===========  =========  ==================
    16k, 44.1k or 48k to 24k, 24k to 16k or 48k   about 22 ms  38 ms      40 ms of input
    8k to 24k, 24k to 8k (ratio 3)                about 44 ms  73 ms      80 ms of input
    ============================================  ===========  =========  ==================

    ``"LQ"`` halves these; ``"VHQ"`` doubles them for ratios 1.5 and 3. ``StreamResampler.pending_ms``
    reports what is held right now. Nothing is lost: ``flush`` pushes the held tail out (the filter sees
    silence after the end), so ``process`` of every chunk plus ``flush`` returns
    ``len(input) * out_rate / in_rate`` samples, rounded to the nearest whole sample, the same bytes
    ``resample`` gives. Equal rates take no filter and add no delay.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import soxr

from voxpipe.audio._checks import check_channels, check_pcm, check_rate
from voxpipe.audio.pcm import PCM16, _channel_mean, _round_to_pcm16, downmix_to_mono, pcm16_array
from voxpipe.errors import VoxpipeUsageError

__all__ = ["Quality", "StreamResampler", "resample"]

#: soxr quality presets, from quick-and-dirty to very high. ``"HQ"`` (20-bit, 95% band) suits speech.
Quality: TypeAlias = Literal["QQ", "LQ", "MQ", "HQ", "VHQ"]
_QUALITIES: tuple[str, ...] = ("QQ", "LQ", "MQ", "HQ", "VHQ")


def _check_layout(channels: object, out_channels: object) -> tuple[int, int]:
    """Validate an input/output channel pair: either unchanged or folded down to mono."""
    n_in = check_channels(channels)
    n_out = n_in if out_channels is None else check_channels(out_channels, "out_channels")
    if n_out not in (n_in, 1):
        raise VoxpipeUsageError(
            f"cannot turn {n_in}-channel audio into {n_out} channels; out_channels must be {n_in} "
            "(keep the layout) or 1 (average to mono)"
        )
    return n_in, n_out


def _check_quality(quality: object) -> str:
    if quality not in _QUALITIES:
        raise VoxpipeUsageError(f"quality must be one of {', '.join(_QUALITIES)}, got {quality!r}")
    return str(quality)


def _to_float(pcm: bytes | bytearray | memoryview, channels: int, fold: bool) -> npt.NDArray[np.float32]:
    """Int16 bytes to the float32 array soxr takes: 1-D mono, or 2-D ``(frames, channels)``.

    The values keep the int16 scale: resampling is linear, so scaling to [-1, 1) and back buys nothing.
    """
    if channels == 1:  # the common case, once per chunk of every stream: no 2-D view to build
        return np.frombuffer(check_pcm(pcm, 2), dtype=PCM16).astype(np.float32)
    frames = pcm16_array(pcm, channels)
    if fold:
        return _channel_mean(frames)
    return frames.astype(np.float32)


class StreamResampler:
    """Resample a stream of 16-bit PCM chunks, keeping the filter state between chunks.

    One instance per stream (per direction, per call); it is not thread-safe. When the rates are equal no
    filter runs at all: chunks come back unchanged (or only folded to mono), with no delay.

    Args:
        in_rate: rate of the audio passed to ``process``, in Hz.
        out_rate: rate of the audio returned, in Hz.
        channels: interleaved channels in the input.
        out_channels: channels in the output: ``None`` or ``channels`` keeps the layout, ``1`` averages all
            channels to mono before resampling (half the work for stereo).
        quality: soxr quality preset; lower presets have less delay (see the module docstring).

    Raises:
        VoxpipeUsageError: a rate is not a positive int, the channel layout is not supported, or
            ``quality`` is not a soxr preset.

    Example::

        resampler = StreamResampler(48000, 24000, channels=2, out_channels=1)
        for chunk in microphone_chunks:
            send(resampler.process(chunk))
        send(resampler.flush())
    """

    def __init__(
        self,
        in_rate: int,
        out_rate: int,
        *,
        channels: int = 1,
        out_channels: int | None = None,
        quality: Quality = "HQ",
    ) -> None:
        self._in_rate = check_rate(in_rate, "in_rate")
        self._out_rate = check_rate(out_rate, "out_rate")
        self._channels, self._out_channels = _check_layout(channels, out_channels)
        self._quality = _check_quality(quality)
        self._stream: soxr.ResampleStream | None = None
        if self._in_rate != self._out_rate:
            try:
                self._stream = soxr.ResampleStream(
                    self._in_rate, self._out_rate, self._out_channels, dtype="float32", quality=self._quality
                )
            except (ValueError, RuntimeError) as exc:
                raise VoxpipeUsageError(
                    f"soxr cannot resample {self._in_rate} Hz to {self._out_rate} Hz: {exc}; "
                    "use rates within a ratio of a few hundred of each other"
                ) from exc

    def __repr__(self) -> str:
        return (
            f"StreamResampler({self._in_rate} Hz x{self._channels} -> {self._out_rate} Hz "
            f"x{self._out_channels}, quality={self._quality!r})"
        )

    @property
    def in_rate(self) -> int:
        """Input sample rate in Hz."""
        return self._in_rate

    @property
    def out_rate(self) -> int:
        """Output sample rate in Hz."""
        return self._out_rate

    @property
    def channels(self) -> int:
        """Interleaved channels expected in the input."""
        return self._channels

    @property
    def out_channels(self) -> int:
        """Channels in the output."""
        return self._out_channels

    @property
    def pending_ms(self) -> float:
        """Milliseconds of output held inside the filter right now; ``flush`` releases them."""
        if self._stream is None:
            return 0.0
        return float(self._stream.delay()) * 1000.0 / self._out_rate

    def process(self, pcm: bytes | bytearray | memoryview) -> bytes:
        """Resample the next chunk of the stream.

        The result may be shorter or longer than ``len(pcm) * out_rate / in_rate`` and may be empty: the
        filter holds back the newest samples (see the module docstring). Call ``flush`` after the last chunk.

        Args:
            pcm: interleaved 16-bit little-endian PCM at ``in_rate`` with ``channels`` channels, whole
                frames, any length (including empty).

        Returns:
            16-bit PCM at ``out_rate`` with ``out_channels`` channels.

        Raises:
            VoxpipeUsageError: ``pcm`` is not bytes-like or is not a whole number of frames.
        """
        fold = self._out_channels != self._channels
        if self._stream is None:
            if fold:
                return downmix_to_mono(pcm, self._channels)
            return bytes(check_pcm(pcm, 2 * self._channels))
        samples = _to_float(pcm, self._channels, fold)
        if samples.shape[0] == 0:
            return b""
        return _round_to_pcm16(self._stream.resample_chunk(samples))

    def process_samples(self, pcm: bytes | bytearray | memoryview) -> npt.NDArray[np.floating]:
        """Like :meth:`process`, but return the samples before they are rounded to 16 bits.

        :func:`~voxpipe.audio.pcm.pcm16_from_samples` of the result is what :meth:`process` returns,
        and so is that of several results joined (rounding works sample by sample): a caller that
        gathers chunks rounds them once (the realtime service's input, which sends about 100 ms at a
        time, rounds once per append instead of once per 20 ms frame).

        Returns:
            Float samples on the int16 scale (not rounded, not clipped), ``(frames,)`` for mono and
            ``(frames, out_channels)`` otherwise.
        """
        fold = self._out_channels != self._channels
        if self._stream is None:
            if fold:  # what downmix_to_mono rounds
                return _channel_mean(pcm16_array(pcm, self._channels), np.float64)
            frames = pcm16_array(pcm, self._channels)
            return frames[:, 0].astype(np.float32) if self._channels == 1 else frames.astype(np.float32)
        samples = _to_float(pcm, self._channels, fold)
        if samples.shape[0] == 0:
            return samples
        return self._stream.resample_chunk(samples)

    def flush(self) -> bytes:
        """End the stream: return the samples the filter still holds, and get ready for a new stream.

        The filter completes the tail as if silence followed. Afterwards the resampler starts afresh, as
        if just built, so it can be reused for the next utterance.

        Returns:
            The remaining 16-bit PCM at ``out_rate`` (empty when the rates are equal).
        """
        if self._stream is None:
            return b""
        return _round_to_pcm16(self.flush_samples())

    def flush_samples(self) -> npt.NDArray[np.floating]:
        """Like :meth:`flush`, but return the samples before they are rounded (see :meth:`process_samples`).

        Returns:
            The remaining float samples on the int16 scale (none when the rates are equal).
        """
        shape = (0,) if self._out_channels == 1 else (0, self._out_channels)
        if self._stream is None:
            return np.zeros(shape, dtype=np.float32)
        tail = self._stream.resample_chunk(np.zeros(shape, dtype=np.float32), last=True)
        self._stream.clear()
        return tail

    def reset(self) -> None:
        """Drop whatever the filter holds, without output, and start afresh.

        Use it when the audio before and after is not continuous (an interruption, a new call), so the tail
        of one stream does not bleed into the next.
        """
        if self._stream is not None:
            self._stream.clear()


def resample(
    pcm: bytes | bytearray | memoryview,
    in_rate: int,
    out_rate: int,
    *,
    channels: int = 1,
    out_channels: int | None = None,
    quality: Quality = "HQ",
) -> bytes:
    """Resample a whole 16-bit PCM signal at once.

    Gives the same bytes as ``StreamResampler.process`` on every chunk of the signal followed by ``flush``.
    Use it for files and prompts; use ``StreamResampler`` for live audio, where cutting the stream into
    separately resampled pieces would put a click at every seam.

    Args:
        pcm: interleaved 16-bit little-endian PCM, whole frames.
        in_rate: rate of ``pcm`` in Hz.
        out_rate: wanted rate in Hz.
        channels: interleaved channels in ``pcm``.
        out_channels: ``None``/``channels`` to keep the layout, ``1`` to average to mono.
        quality: soxr quality preset.

    Returns:
        16-bit PCM at ``out_rate``, ``len(pcm) * out_rate / in_rate`` samples rounded to nearest.

    Raises:
        VoxpipeUsageError: bad rate, layout, quality or buffer (see ``StreamResampler``).
    """
    in_rate = check_rate(in_rate, "in_rate")
    out_rate = check_rate(out_rate, "out_rate")
    n_in, n_out = _check_layout(channels, out_channels)
    quality_name = _check_quality(quality)
    fold = n_out != n_in
    if in_rate == out_rate:
        return downmix_to_mono(pcm, n_in) if fold else bytes(check_pcm(pcm, 2 * n_in))
    samples = _to_float(pcm, n_in, fold)
    if samples.shape[0] == 0:
        return b""
    try:
        out = soxr.resample(samples, in_rate, out_rate, quality=quality_name)
    except (ValueError, RuntimeError) as exc:
        raise VoxpipeUsageError(f"soxr cannot resample {in_rate} Hz to {out_rate} Hz: {exc}") from exc
    return _round_to_pcm16(np.asarray(out))

"""The realtime service's input encoder gives what encoding each frame on arrival gives, whenever read.

It rounds and encodes the resampled audio once per append instead of once per frame, and tells a
chunk's level from its unrounded samples when it is clear of the threshold; these
tests hold it to a reference that does all of it frame by frame (the encoder as it was): the same
appends from the same pushes, the same counts (``sent_ms``, ``loud_until_ms``, ``quiet_ms``,
``pending_ms``) after every push, for each wire format and input layout.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest

from voxpipe.audio import StreamResampler, alaw_encode, rms_dbfs, ulaw_encode
from voxpipe.services._realtime_service.audio import FORMAT_RATES, NEAR_SILENCE_DBFS, InputAudioEncoder

_ENCODE = {"g711_ulaw": ulaw_encode, "g711_alaw": alaw_encode}


class FrameByFrame:
    """The reference: every frame resampled to PCM16, measured and encoded as it comes."""

    def __init__(self, audio_format: str, batch_ms: int = 100) -> None:
        self.format = audio_format
        self.bytes_per_ms = FORMAT_RATES[audio_format] / 1000 * (1 if audio_format in _ENCODE else 2)
        self.batch = int(self.bytes_per_ms * batch_ms)
        self.resamplers: dict[tuple[int, int], StreamResampler] = {}
        self.pending = bytearray()
        self.sent_ms = 0.0
        self.loud_until_ms = 0.0

    def _gather(self, pcm: bytes) -> None:
        if not pcm:
            return
        loud = rms_dbfs(pcm) > NEAR_SILENCE_DBFS
        encode = _ENCODE.get(self.format)
        self.pending += encode(pcm) if encode is not None else pcm
        if loud:
            self.loud_until_ms = self.sent_ms + len(self.pending) / self.bytes_per_ms

    def _take(self) -> str:
        chunk = bytes(self.pending)
        self.pending.clear()
        self.sent_ms += len(chunk) / self.bytes_per_ms
        return base64.b64encode(chunk).decode("ascii")

    def push(self, pcm: bytes, rate: int, channels: int) -> list[str]:
        key = (rate, channels)
        if key not in self.resamplers:
            out_rate = FORMAT_RATES[self.format]
            self.resamplers[key] = StreamResampler(rate, out_rate, channels=channels, out_channels=1)
        self._gather(self.resamplers[key].process(pcm))
        return [self._take()] if len(self.pending) >= self.batch else []

    def flush(self) -> list[str]:
        for resampler in self.resamplers.values():
            self._gather(resampler.flush())
        return [self._take()] if self.pending else []


def _frames(rate: int, channels: int, seconds: float, seed: int) -> list[bytes]:
    """20 ms frames (some 10 or 30 ms) of a voice-like tone broken by near-silence and digital silence."""
    rng = np.random.default_rng(seed)
    frames = []
    t = 0
    while t < seconds * rate:
        n = int(rate * rng.choice([0.01, 0.02, 0.02, 0.02, 0.03]))
        kind = rng.choice(["loud", "loud", "hiss", "zero", "edge"])
        level = {"loud": 3000.0, "hiss": 3.0, "zero": 0.0, "edge": 146.5}[kind]  # edge: about -50 dBFS
        x = level * np.sin(2 * np.pi * 210 * (t + np.arange(n)) / rate) + rng.normal(0, level / 10 + 1e-9, n)
        samples = np.repeat(np.round(x)[:, None], channels, axis=1)
        frames.append(samples.astype("<i2").tobytes())
        t += n
    return frames


def _counts(encoder: InputAudioEncoder | FrameByFrame) -> tuple[float, float, float]:
    if isinstance(encoder, InputAudioEncoder):
        return encoder.sent_ms, encoder.loud_until_ms, encoder.pending_ms
    pending = len(encoder.pending) / encoder.bytes_per_ms
    return encoder.sent_ms, encoder.loud_until_ms, pending


@pytest.mark.parametrize("audio_format", ["pcm16", "g711_ulaw", "g711_alaw"])
@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (48000, 2), (24000, 1), (8000, 1), (44100, 1)])
@pytest.mark.parametrize("read_between", [False, True])
def test_appends_and_counts_match_encoding_each_frame_on_arrival(
    audio_format: str, rate: int, channels: int, read_between: bool
) -> None:
    encoder, reference = InputAudioEncoder(audio_format), FrameByFrame(audio_format)
    appends = 0
    for i, frame in enumerate(_frames(rate, channels, 3.0, seed=rate + channels)):
        got, want = encoder.push(frame, rate, channels), reference.push(frame, rate, channels)
        assert got == want, f"frame {i}"
        appends += len(got)
        if read_between or got:  # reading mid-append settles early: the counts must not depend on it
            assert _counts(encoder) == _counts(reference), f"frame {i}"
            assert encoder.quiet_ms == max(0.0, reference.sent_ms - reference.loud_until_ms)
    assert encoder.flush() == reference.flush()
    assert _counts(encoder) == _counts(reference)
    assert appends >= 20


def test_a_new_format_runs_the_counts_on_and_reset_drops_what_was_gathered() -> None:
    encoder = InputAudioEncoder("pcm16")
    for i, frame in enumerate(_frames(16000, 1, 1.0, seed=1)):
        encoder.push(frame, 16000, 1)
        if i > 10 and encoder._unsettled:  # stop with audio gathered and not yet encoded
            break
    assert encoder.pending_ms > 0
    loud_until = encoder.loud_until_ms
    moved = InputAudioEncoder("g711_ulaw", continues=encoder)
    assert (moved.sent_ms, moved.loud_until_ms) == (encoder.sent_ms, loud_until)
    encoder.reset()
    assert encoder.pending_ms == 0 and encoder.flush() == []


def test_a_chunks_level_is_told_as_its_rounded_pcm_reads_even_a_hair_from_the_threshold() -> None:
    from voxpipe.audio import pcm16_from_samples
    from voxpipe.services._realtime_service.audio import _louder_than_near_silence

    rng = np.random.default_rng(11)
    target = 32768 * 10 ** (NEAR_SILENCE_DBFS / 20)  # the RMS at the threshold
    decided = {True: 0, False: 0}
    for n in (1, 3, 160, 734, 1468, 2936):
        for scale in (0.0, 1.0, 50.0, 0.99 * target, target, 1.0001 * target, 1.01 * target, 5000.0, 40000.0):
            for _ in range(40):
                x = rng.normal(0, 1, n)
                x = (x / (np.sqrt(np.mean(x * x)) or 1.0) * scale).astype(np.float32)
                x += rng.uniform(-0.5, 0.5, n).astype(np.float32) * (scale > 0)  # fractions to round
                exact = rms_dbfs(pcm16_from_samples(x)) > NEAR_SILENCE_DBFS
                assert _louder_than_near_silence(x) is exact, (n, scale)
                decided[exact] += 1
    assert decided[True] > 500 and decided[False] > 500

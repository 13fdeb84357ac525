"""Micro-benchmark of voxpipe.audio: microseconds per 20 ms chunk on the hot paths of a voice pipeline.

Run: ``.venv/bin/python bench/audio.py [--seconds 0.3]``. Prints a table; nothing is asserted. The core %
column is the fraction of one core the operation costs in real time (its time over the audio it covers).
μ-law and A-law are compared with the stdlib ``audioop`` C code in the same run where it still exists
(Python <= 3.12).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from types import ModuleType

import numpy as np

from voxpipe.audio import (
    Rechunker,
    StreamResampler,
    alaw_decode,
    alaw_encode,
    ulaw_decode,
    ulaw_encode,
)

CHUNK_MS = 20


def load_audioop() -> ModuleType | None:
    """The stdlib reference coder, or None on Python 3.13+."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:
            return None
    return audioop


def speech_like(rate: int, channels: int = 1, seconds: float = 1.0) -> bytes:
    """Noise plus a tone at speech level, as PCM16 bytes."""
    rng = np.random.default_rng(0)
    n = int(rate * seconds)
    t = np.arange(n) / rate
    mono = 5000 * np.sin(2 * np.pi * 220 * t) + rng.normal(0, 2000, n)
    frames = np.repeat(mono[:, None], channels, axis=1)
    return np.clip(np.rint(frames), -32768, 32767).astype("<i2").tobytes()


def chunks_of(pcm: bytes, rate: int, channels: int) -> list[bytes]:
    size = rate * CHUNK_MS // 1000 * 2 * channels
    return [pcm[i : i + size] for i in range(0, len(pcm) - size + 1, size)]


def time_per_call(run: Callable[[bytes], object], chunks: list[bytes], seconds: float) -> float:
    """Median over several rounds of the mean µs per call, each round cycling through ``chunks``."""
    for chunk in chunks[:20]:  # warm up (tables, allocator, soxr setup)
        run(chunk)
    rounds: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(rounds) < 5:
        start = time.perf_counter()
        for chunk in chunks:
            run(chunk)
        rounds.append((time.perf_counter() - start) / len(chunks) * 1e6)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.3, help="time budget per row (default 0.3)")
    args = parser.parse_args()
    audioop = load_audioop()

    rows: list[tuple[str, float, float | None]] = []

    def resampler_row(
        name: str, in_rate: int, out_rate: int, channels: int = 1, out_channels: int = 1
    ) -> None:
        resampler = StreamResampler(in_rate, out_rate, channels=channels, out_channels=out_channels)
        chunks = chunks_of(speech_like(in_rate, channels), in_rate, channels)
        rows.append((name, time_per_call(resampler.process, chunks, args.seconds), None))

    resampler_row("resample stream 16k -> 24k mono", 16000, 24000)
    resampler_row("resample stream 48k stereo -> 24k mono", 48000, 24000, channels=2)
    resampler_row("resample stream 8k -> 24k mono", 8000, 24000)
    resampler_row("resample stream 24k -> 8k mono", 24000, 8000)
    resampler_row("resample 24k -> 24k (pass-through)", 24000, 24000)

    pcm8k = chunks_of(speech_like(8000), 8000, 1)
    ulaw8k = [ulaw_encode(c) for c in pcm8k]
    alaw8k = [alaw_encode(c) for c in pcm8k]
    codecs: list[tuple[str, Callable[[bytes], object], list[bytes], str]] = [
        ("ulaw encode 20 ms @ 8k", ulaw_encode, pcm8k, "lin2ulaw"),
        ("ulaw decode 20 ms @ 8k", ulaw_decode, ulaw8k, "ulaw2lin"),
        ("alaw encode 20 ms @ 8k", alaw_encode, pcm8k, "lin2alaw"),
        ("alaw decode 20 ms @ 8k", alaw_decode, alaw8k, "alaw2lin"),
    ]
    pcm1s = [speech_like(8000)]
    codecs += [
        ("ulaw encode 1 s @ 8k (one call)", ulaw_encode, pcm1s, "lin2ulaw"),
        ("ulaw decode 1 s @ 8k (one call)", ulaw_decode, [ulaw_encode(pcm1s[0])], "ulaw2lin"),
    ]
    for name, function, data, reference in codecs:
        ours = time_per_call(function, data, args.seconds)
        theirs = None
        if audioop is not None:
            ref = getattr(audioop, reference)
            theirs = time_per_call(lambda chunk, ref=ref: ref(chunk, 2), data, args.seconds)
        rows.append((name, ours, theirs))

    rechunker = Rechunker(100, 24000)
    odd = [bytes(1234)] * 50  # arbitrary sizes in, 100 ms chunks out
    rows.append(
        ("rechunk 1234 B pieces -> 100 ms @ 24k", time_per_call(rechunker.push, odd, args.seconds), None)
    )

    print(
        f"voxpipe.audio micro-benchmark: µs per call on {CHUNK_MS} ms chunks unless noted (median of rounds)"
    )
    print(f"{'operation':42} {'µs/call':>9} {'core %':>7} {'audioop µs':>11} {'ours/audioop':>13}")
    print("-" * 86)
    for name, ours, theirs in rows:
        share = ours / ((1000 if "1 s" in name else CHUNK_MS) * 1000) * 100
        ref = f"{theirs:11.2f}" if theirs is not None else f"{'-':>11}"
        ratio = f"{ours / theirs:13.2f}" if theirs is not None else f"{'-':>13}"
        print(f"{name:42} {ours:9.2f} {share:6.3f}% {ref} {ratio}")
    if audioop is None:
        print("audioop is not available on this Python (3.13+); no reference column.")


if __name__ == "__main__":
    main()

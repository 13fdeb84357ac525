"""Whisper tiny.en settings on this machine: word error on the English fixtures and the cost of a pass.

Run: ``.venv/bin/python bench/stt_settings.py [--threads 2] [--busy 1] [--repeats 2] [--opus 8]``. Needs
the ``local`` extra (and ``webrtc`` for ``--opus``). For each setting (encoder window, beam width,
timestamps) it transcribes every English fixture in ``tests/fixtures/speech`` (with 0.5 s of silence after
it, as a pass at the end of a turn sees it) and clips joined from them (6-10 s: longer turns), and prints
the word error against the reference texts of ``tests/fixtures/speech/README.md`` and the pass time split
into encoder and decoder (p50). ``--busy N`` keeps N other processes spinning meanwhile (a machine where
the LLM runs too). ``--opus N`` adds N copies of each single clip as a browser delivers it: a random lead
of silence and level, through an Opus encoder and decoder at 48 kHz (what WebRTC does to a microphone). The
clean fixtures do not show the difference those copies do: with ``--opus 6`` (10 s window) greedy decoding
heard "What is the capital of France?" as "... capital and friends?" in 2 of 6 copies, beam 5 in none
(pass p50 386 vs 439 ms). Asserts nothing.
"""

from __future__ import annotations

import argparse
import fractions
import multiprocessing
import os
import random
import statistics
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import soxr
from faster_whisper import WhisperModel

from voxpipe.server.engines.local.models import whisper_tiny_en_path
from voxpipe.server.engines.local.stt import _windowed_model_class

SPEECH = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "speech"
REFERENCE = {  # tests/fixtures/speech/README.md
    "en_alsa_front_left_48k.wav": "Front left.",
    "en_asterisk_weasels_8k.wav": "Weasels have eaten our phone system.",
    "en_espeak_capital_of_france_16k.wav": "What is the capital of France?",
    "en_espeak_tell_joke_16k.wav": "Please tell me a short joke.",
    "en_espeak_weather_paris_16k.wav": "What's the weather like in Paris today?",
    "en_librivox_amiable_16k.wav": "He might even have been made amiable himself.",
    # last, so the joined clips stay as they were: the browser test's question (robust through Opus)
    "en_espeak_capital_city_of_france_16k.wav": "What is the capital city of France?",
}
SETTINGS = (  # (window s, beam, without_timestamps)
    (30, 5, False),  # Whisper's own (the engine's default before this bench)
    (30, 5, True),
    (30, 1, False),
    (15, 1, False),
    (10, 5, False),  # the engine's default now
    (10, 1, False),  # the engine's default before Opus-coded copies were measured
    (10, 1, True),
    (7, 1, False),
    (5, 1, False),
)


def load(name: str) -> np.ndarray:
    with wave.open(str(SPEECH / name)) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        rate = wav.getframerate()
    if rate != 16_000:
        samples = soxr.resample(samples, rate, 16_000)
    return samples.astype(np.float32) / 32768


def words(text: str) -> list[str]:
    kept = "".join(c if c.isalnum() else " " for c in text.lower().replace("'", ""))
    return kept.split()


def word_errors(reference: str, heard: str) -> tuple[int, int]:
    """Edit distance in words, and the reference's length."""
    ref, hyp = words(reference), words(heard)
    row = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        prev, row[0] = row[:], i
        for j in range(1, len(hyp) + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ref[i - 1] != hyp[j - 1]))
    return row[len(hyp)], len(ref)


def opus_round_trip(audio: np.ndarray, bitrate: int) -> np.ndarray:
    """16 kHz float audio through libopus at 48 kHz in 20 ms frames, back to 16 kHz (a WebRTC microphone)."""
    import av  # the webrtc extra

    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format, encoder.bit_rate = 48_000, "mono", "s16", bitrate
    decoder = av.CodecContext.create("opus", "r")
    decoder.sample_rate, decoder.layout = 48_000, "mono"
    pcm48 = (np.clip(soxr.resample(audio, 16_000, 48_000), -1, 1) * 32767).astype(np.int16)
    decoded: list[np.ndarray] = []
    for start in range(0, pcm48.size - 960, 960):
        frame = av.AudioFrame.from_ndarray(pcm48[None, start : start + 960], format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 48_000, start, fractions.Fraction(1, 48_000)
        for packet in encoder.encode(frame):
            decoded.extend(f.to_ndarray().reshape(-1) for f in decoder.decode(packet))
    out = np.concatenate(decoded)
    out = out.astype(np.float32) / 32768 if out.dtype == np.int16 else out.astype(np.float32)
    return soxr.resample(out, 48_000, 16_000)


def clips(opus_copies: int) -> list[tuple[str, np.ndarray, str]]:
    tail, gap = np.zeros(8_000, np.float32), np.zeros(4_000, np.float32)
    out = [(name, np.concatenate([load(name), tail]), text) for name, text in REFERENCE.items()]
    names = list(REFERENCE)
    for group in (names[:2], names[:3], names[1:5]):
        audio = np.concatenate([x for n in group for x in (load(n), gap)] + [tail])
        out.append((f"{len(group)} joined", audio, " ".join(REFERENCE[n] for n in group)))
    chance = random.Random(1)  # the same copies in every run and for every setting
    for name, text in REFERENCE.items():
        for copy in range(opus_copies):
            lead = np.zeros(8_000 + chance.randrange(1_600), np.float32)
            level = chance.uniform(0.3, 1.0)
            bitrate = chance.choice((24_000, 32_000, 48_000))
            audio = opus_round_trip(np.concatenate([lead, load(name) * level, tail]), bitrate)
            out.append((f"{name} opus {copy}", audio, text))
    return out


def spin() -> None:
    while True:
        sum(range(10_000))


def main(args: argparse.Namespace) -> None:
    busy = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.busy)]
    for process in busy:
        process.start()
    try:
        run(args)
    finally:
        for process in busy:
            process.terminate()
            process.join()


def run(args: argparse.Namespace) -> None:
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
    print(f"cpu_threads {args.threads}; {args.busy} busy processes beside; p50 of {args.repeats} runs a clip")
    model: Any = _windowed_model_class(WhisperModel)(
        str(whisper_tiny_en_path()),
        device="cpu",
        compute_type="int8",
        cpu_threads=args.threads,
        local_files_only=True,
    )
    encode, spent = model.encode, [0.0]

    def timed_encode(features: Any) -> Any:
        started = time.perf_counter()
        try:
            return encode(features)
        finally:
            spent[0] += time.perf_counter() - started

    model.encode = timed_encode
    cases = clips(args.opus)
    model.transcribe(cases[0][1], language="en")  # CTranslate2's first call allocates
    for window, beam, no_timestamps in SETTINGS:
        model.window_frames = window * 100
        errors = total = 0
        passes: list[float] = []
        encodes: list[float] = []
        misses: list[str] = []
        for name, audio, reference in cases:
            if audio.size > (window - 1) * 16_000:
                continue  # the engine uses a window only with a second of padding to spare
            for repeat in range(args.repeats):
                spent[0] = 0.0
                started = time.perf_counter()
                segments, _ = model.transcribe(
                    audio,
                    language="en",
                    beam_size=beam,
                    temperature=0.0,
                    without_timestamps=no_timestamps,
                    condition_on_previous_text=False,
                    vad_filter=False,
                )
                heard = " ".join(s.text.strip() for s in segments)
                passes.append(time.perf_counter() - started)
                encodes.append(spent[0])
                if repeat == 0:
                    wrong, count = word_errors(reference, heard)
                    errors, total = errors + wrong, total + count
                    if wrong:
                        misses.append(f"{name}: {heard[:80]!r}")
        p50 = statistics.median(passes) * 1000
        enc = statistics.median(encodes) * 1000
        dec = statistics.median(p - e for p, e in zip(passes, encodes, strict=True)) * 1000
        print(
            f"window {window:2d} s beam {beam} {'no timestamps' if no_timestamps else 'timestamps   '}: "
            f"{len(passes) // args.repeats} clips, word error {errors}/{total} = {errors / total:5.1%}, "
            f"pass p50 {p50:5.0f} ms (encoder {enc:4.0f}, decoder {dec:4.0f})",
            flush=True,
        )
        for miss in misses:
            print(f"    heard {miss}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2, help="CTranslate2 cpu_threads (default 2)")
    parser.add_argument("--busy", type=int, default=0, help="spinning processes beside (default 0)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per clip (default 2)")
    parser.add_argument("--opus", type=int, default=0, help="Opus-coded copies of each clip (default 0)")
    main(parser.parse_args())

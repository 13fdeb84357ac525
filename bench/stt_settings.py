"""Whisper tiny.en settings on this machine: word error on the English fixtures and the cost of a pass.

Run: ``.venv/bin/python bench/stt_settings.py [--threads 2] [--busy 1] [--repeats 2] [--opus 8] [--only
4,17]`` (under the bench lock). Needs the ``local`` extra (and ``webrtc`` for ``--opus``). For each setting
(encoder window, beam width and patience, length penalty, timestamps) it transcribes every English fixture in
``tests/fixtures/speech`` (with 0.5 s of silence after it, as a pass at the end of a turn sees it) and clips
joined from them (6-10 s: longer turns), and prints the word errors against the reference texts of
``tests/fixtures/speech/README.md`` (clean and Opus-coded apart, with what was misheard), the pass time split
into encoder and decoder (p50) and the encoder windows a pass took. The settings take turns on each clip, so a
change in the machine's load falls on all of them; beam 5 ([4], the engine's default before this note) and the
engine's default ([17]) run every time as baselines. ``--busy N`` keeps N other processes spinning meanwhile
(a machine where the LLM runs too). ``--opus N`` adds N copies of each single clip as a browser delivers it: a
random lead of silence and level, through an Opus encoder and decoder at 48 kHz (what WebRTC does to a
microphone). The clean fixtures do not show the difference those copies do: with ``--opus 6`` (10 s window)
greedy decoding heard "What is the capital of France?" as "... capital and friends?" in 2 of 6 copies, beam 5
in none (pass p50 386 vs 439 ms). Beam 2 ending at its first hypothesis (patience 0.5) heard what beam 5
heard, 10-30 ms faster a pass; the figures of every setting tried are in the module docstring of
``voxpipe.server.engines.local.stt``. Asserts nothing.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soxr
from faster_whisper import WhisperModel

from _machine import machine_line  # bench/ is on sys.path when a bench runs as a script
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


@dataclass(frozen=True, slots=True)
class Setting:
    """One way to run a pass: faster-whisper's ``transcribe`` options that change its cost."""

    window: int  # encoder window, seconds
    beam: int
    timestamps: bool = True  # False: ``without_timestamps=True`` (one segment a window: no commits)
    patience: float = 1.0  # beam search stops after round(beam * patience) finished hypotheses
    length_penalty: float = 1.0  # 0: CTranslate2 stops when the top beam finishes (scores not normalised)

    def __str__(self) -> str:
        extra = "".join(
            (
                "" if self.timestamps else " no-timestamps",
                f" patience {self.patience:g}" if self.patience != 1 else "",
                f" length-penalty {self.length_penalty:g}" if self.length_penalty != 1 else "",
            )
        )
        return f"window {self.window:2d} s beam {self.beam}{extra}"


SETTINGS = (
    Setting(30, 5),  # [0] Whisper's own (the engine's default before this bench)
    Setting(30, 5, timestamps=False),
    Setting(30, 1),
    Setting(15, 1),
    Setting(10, 5),  # [4] the engine's default before [17]: the baseline of every run
    Setting(10, 1),  # the engine's default before Opus-coded copies were measured
    Setting(10, 1, timestamps=False),
    Setting(7, 1),
    Setting(5, 1),
    Setting(10, 3),  # [9]
    Setting(10, 2),
    Setting(10, 5, timestamps=False),
    Setting(10, 3, timestamps=False),
    Setting(10, 5, patience=0.2),  # stop at the first finished hypothesis
    Setting(10, 5, patience=0.5),  # ... at the third
    Setting(10, 5, length_penalty=0),  # ... when the best beam finishes
    Setting(10, 3, patience=0.34),  # [16]
    Setting(10, 2, patience=0.5),  # [17] the engine's default since: ends at its first hypothesis
    Setting(10, 4, patience=0.25),
    Setting(10, 3, length_penalty=0),
)
BASELINES = (4, 17)  # beam 5 (Whisper's own beam) and the engine's default: in every run


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


@dataclass(slots=True)
class Tally:
    """What one setting heard and spent over the clips."""

    errors: dict[str, int] = field(default_factory=lambda: {"clean": 0, "opus": 0})
    words: dict[str, int] = field(default_factory=lambda: {"clean": 0, "opus": 0})
    passes: list[float] = field(default_factory=list)
    encodes: list[float] = field(default_factory=list)
    windows: list[int] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)


def run(args: argparse.Namespace) -> None:
    print(machine_line())
    print(f"cpu_threads {args.threads}; {args.busy} busy processes beside; p50 of {args.repeats} runs a clip")
    chosen = [int(i) for i in args.only.split(",")] if args.only else list(range(len(SETTINGS)))
    chosen = [i for i in BASELINES if i not in chosen] + chosen
    model: Any = _windowed_model_class(WhisperModel)(
        str(whisper_tiny_en_path()),
        device="cpu",
        compute_type="int8",
        cpu_threads=args.threads,
        local_files_only=True,
    )
    encode, spent, windows = model.encode, [0.0], [0]

    def timed_encode(features: Any) -> Any:
        started = time.perf_counter()
        try:
            return encode(features)
        finally:
            spent[0] += time.perf_counter() - started
            windows[0] += 1

    model.encode = timed_encode
    cases = clips(args.opus)
    for window in {SETTINGS[i].window for i in chosen}:  # CTranslate2's first call per shape allocates
        model.window_frames = window * 100
        list(model.transcribe(cases[0][1], language="en")[0])
    tallies = {i: Tally() for i in chosen}
    # settings take turns on each clip, so a change in the machine's load falls on all of them alike
    for repeat in range(args.repeats):
        for name, audio, reference in cases:
            kind = "opus" if " opus " in name else "clean"
            for i in chosen:
                setting, tally = SETTINGS[i], tallies[i]
                if audio.size > (setting.window - 1) * 16_000:
                    continue  # the engine uses a window only with a second of padding to spare
                model.window_frames = setting.window * 100
                spent[0], windows[0] = 0.0, 0
                started = time.perf_counter()
                segments, _ = model.transcribe(
                    audio,
                    language="en",
                    beam_size=setting.beam,
                    patience=setting.patience,
                    length_penalty=setting.length_penalty,
                    temperature=0.0,
                    without_timestamps=not setting.timestamps,
                    condition_on_previous_text=False,
                    vad_filter=False,
                )
                heard = " ".join(s.text.strip() for s in segments)
                tally.passes.append(time.perf_counter() - started)
                tally.encodes.append(spent[0])
                tally.windows.append(windows[0])
                if repeat == 0:
                    wrong, count = word_errors(reference, heard)
                    tally.errors[kind] += wrong
                    tally.words[kind] += count
                    if wrong:
                        tally.misses.append(f"{name}: {heard[:80]!r}")
    for i in chosen:
        setting, tally = SETTINGS[i], tallies[i]
        p50 = statistics.median(tally.passes) * 1000
        enc = statistics.median(tally.encodes) * 1000
        dec = statistics.median(p - e for p, e in zip(tally.passes, tally.encodes, strict=True)) * 1000
        heard = ", ".join(
            f"{kind} {tally.errors[kind]}/{tally.words[kind]}"
            for kind in ("clean", "opus")
            if tally.words[kind]
        )
        print(
            f"[{i:2d}] {setting}: {len(tally.passes) // args.repeats} clips, word errors {heard}; "
            f"pass p50 {p50:4.0f} ms (encoder {enc:4.0f}, decoder {dec:4.0f}), "
            f"{statistics.mean(tally.windows):.2f} windows a pass",
            flush=True,
        )
        for miss in tally.misses:
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
    parser.add_argument(
        "--only", default="", help="indexes in SETTINGS to run, e.g. 9,10 (default all; 4 and 17 always run)"
    )
    main(parser.parse_args())

"""Framework overhead of voxpipe and of pipecat 0.0.75, measured side by side in one run (DESIGN.md 8).

Run: ``.venv/bin/python bench/framework_overhead.py [--quick] [--skip-pipecat] [--rounds N] [--json PATH]``.
Prints figures; nothing is asserted and the exit status is 0 whatever the verdicts (STYLE.md practice 17).

What is measured, for each framework configuration:

- **Paced per-hop latency** of a ``TextFrame`` (an ordered data frame) and of an ``InputAudioRawFrame``
  (a system frame, 20 ms of 16 kHz mono PCM16): one frame in flight at a time, queued with
  ``task.queue_frame`` and timed until a sink processor at the end of the pipeline sees it, then a short
  pause. The same is measured through 0 (the baseline: the sink alone), 5 and 20 pass-through
  processors, interleaved sample by sample; per hop = ``(pXX(N) - pXX(0)) / N``, so the fixed cost of the
  task's feed queue, the pipeline edges and the sink cancels out.
- **Burst throughput**: 5,000 ``TextFrame``\\ s queued back to back, frames/s from the first queued to the
  last received at the sink, through 5 and 20 pass-through processors.

Each framework runs in worker subprocesses with the same harness (this module): voxpipe in this
interpreter's environment, pipecat in a throwaway venv under ``${XDG_CACHE_HOME:-~/.cache}/voxpipe-bench``
(created on first use with this interpreter's ``venv`` and ``pip install pipecat-ai==0.0.75``; it pins
``openai~=1.74`` and ``websockets~=13.1``, hence not voxpipe's venv). Rounds alternate the workers, in a
rotating order, so CPU noise from other work hits all of them alike; every figure is the median of rounds.

This module is also the harness the workers import (``bench/_voxpipe_overhead.py`` and
``bench/_pipecat_overhead.py``): it imports nothing outside the standard library at module level, so it
loads in either venv.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

PIPECAT_VERSION = "0.0.75"
BENCH_DIR = Path(__file__).resolve().parent
HOPS = (5, 20)
"""Pass-through processor counts measured (0, the baseline, is always measured too)."""
KINDS = ("text", "audio")
BURST_FRAMES = 5000
AUDIO_BYTES = 640
"""20 ms of 16 kHz mono PCM16: 320 samples of 2 bytes."""

LATENCY_TARGET = 0.5
"""voxpipe per-hop latency must be at most this fraction of pipecat's fastest configuration."""
THROUGHPUT_TARGET = 2.0
"""voxpipe burst throughput must be at least this multiple of pipecat's fastest configuration."""

WORKERS: tuple[tuple[str, str, str], ...] = (
    ("voxpipe", "_voxpipe_overhead.py", "default"),
    ("pipecat", "_pipecat_overhead.py", "default"),
    ("pipecat", "_pipecat_overhead.py", "fastest"),
)
"""(framework, worker script, configuration) of every measured configuration."""


# =====================================================================================================
# Harness: runs inside a worker subprocess, in either framework's venv.
# =====================================================================================================


class Rig(Protocol):
    """A running pipeline of ``hops`` pass-through processors followed by a sink, in one framework."""

    async def start(self) -> None:
        """Run the pipeline task; return once the StartFrame has reached the sink."""

    async def queue(self, frame: Any) -> None:
        """Queue a frame with the task's own ``queue_frame`` (the way applications feed a pipeline)."""

    async def stop(self) -> None:
        """End the run (EndFrame) and wait for the task to finish."""


class Adapter(Protocol):
    """What a framework's worker module provides to the harness."""

    framework: str

    def version(self) -> str:
        """The framework's installed version."""

    def describe(self, config: str) -> str:
        """A one-line description of a task configuration."""

    def text_frame(self, text: str) -> Any:
        """A new ``TextFrame``."""

    def audio_frame(self, pcm: bytes) -> Any:
        """A new ``InputAudioRawFrame`` of 16 kHz mono PCM16."""

    def build(self, hops: int, config: str, on_arrival: Callable[[Any], None]) -> Rig:
        """A rig whose sink calls ``on_arrival(frame)`` for every measured frame it receives."""


class Arrivals:
    """Called by the sink for each measured frame; resolves a future when the expected count arrived.

    The last expected frame also reads this thread's CPU clock (``cpu_ns``): CPU time is what the
    framework spent, without the time the process sat preempted by other work on a shared machine.
    """

    __slots__ = ("_expected", "_future", "_seen", "cpu_ns", "last_ns")

    def __init__(self) -> None:
        self._expected = 0
        self._seen = 0
        self._future: asyncio.Future[int] | None = None
        self.last_ns = 0
        self.cpu_ns = 0

    def arm(self, count: int) -> asyncio.Future[int]:
        """Expect ``count`` more frames; the future resolves to the last one's arrival time (ns)."""
        self._expected = count
        self._seen = 0
        self._future = asyncio.get_running_loop().create_future()
        return self._future

    def __call__(self, frame: Any) -> None:
        self.last_ns = now = time.perf_counter_ns()
        self._seen += 1
        future = self._future
        if self._seen == self._expected and future is not None and not future.done():
            self.cpu_ns = time.thread_time_ns()
            future.set_result(now)


@dataclass(frozen=True)
class WorkerOptions:
    """How much a worker measures."""

    config: str
    warmup: int
    samples: int
    pause_s: float
    burst: int


Series = dict[str, dict[str, float]]
"""Per pipeline size (``"0"``, ``"5"``, ``"20"``): ``{"p50": µs, "p99": µs, "n": samples}``."""


def _percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, by linear interpolation between order statistics."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


async def _paced(
    adapter: Adapter, rigs: dict[int, Rig], arrivals: dict[int, Arrivals], kind: str, opts: WorkerOptions
) -> tuple[Series, Series]:
    """Paced samples of one frame kind, rigs interleaved sample by sample: (wall-clock, CPU) latency."""
    pcm = b"\x01\x00" * (AUDIO_BYTES // 2)
    order = list(rigs)
    wall: dict[int, list[float]] = {hops: [] for hops in order}
    cpu: dict[int, list[float]] = {hops: [] for hops in order}
    gc.collect()
    for i in range(opts.warmup + opts.samples):
        shift = i % len(order)
        for hops in order[shift:] + order[:shift]:
            frame = adapter.text_frame(f"sample {i}") if kind == "text" else adapter.audio_frame(pcm)
            arrival = arrivals[hops]
            arrived = arrival.arm(1)
            cpu_start = time.thread_time_ns()
            start = time.perf_counter_ns()
            await rigs[hops].queue(frame)
            end = await arrived
            if i >= opts.warmup:
                wall[hops].append((end - start) / 1000.0)
                cpu[hops].append((arrival.cpu_ns - cpu_start) / 1000.0)
            await asyncio.sleep(opts.pause_s)
    return _summary(wall), _summary(cpu)


def _summary(samples: dict[int, list[float]]) -> Series:
    return {
        str(hops): {
            "p50": _percentile(values, 0.50),
            "p99": _percentile(values, 0.99),
            "n": float(len(values)),
        }
        for hops, values in samples.items()
    }


async def _burst(adapter: Adapter, rig: Rig, arrivals: Arrivals, count: int) -> float:
    """Frames/s of ``count`` TextFrames queued back to back, first queued to last received."""
    frames = [adapter.text_frame(f"burst {i}") for i in range(count)]
    gc.collect()
    arrived = arrivals.arm(count)
    start = time.perf_counter_ns()
    for frame in frames:
        await rig.queue(frame)
    end = await arrived
    await _settle()
    return count / ((end - start) / 1e9)


async def _settle(max_s: float = 10.0) -> None:
    """Wait until the loop is quiet: work left behind by a burst (observer backlogs, the frames going on
    past the sink) must not run during the next measurement. Quiet = five 2 ms sleeps in a row that
    each came back within 4 ms (a busy loop makes a sleep come back late)."""
    deadline = time.perf_counter() + max_s
    quiet = 0
    while quiet < 5 and time.perf_counter() < deadline:
        began = time.perf_counter()
        await asyncio.sleep(0.002)
        quiet = quiet + 1 if time.perf_counter() - began < 0.004 else 0


async def measure(adapter: Adapter, opts: WorkerOptions) -> dict[str, Any]:
    """One round of every measurement for one framework configuration."""
    counts = (0, *HOPS)
    arrivals = {hops: Arrivals() for hops in counts}
    rigs = {hops: adapter.build(hops, opts.config, arrivals[hops]) for hops in counts}
    for rig in rigs.values():
        await rig.start()
    try:
        paced = {kind: await _paced(adapter, rigs, arrivals, kind, opts) for kind in KINDS}
        burst: dict[str, float] = {}
        for hops in HOPS:
            await _settle()
            await _burst(adapter, rigs[hops], arrivals[hops], max(1, opts.burst // 10))  # warm-up
            burst[str(hops)] = await _burst(adapter, rigs[hops], arrivals[hops], opts.burst)
    finally:
        for rig in rigs.values():
            await rig.stop()
    return {
        "framework": adapter.framework,
        "version": adapter.version(),
        "config": opts.config,
        "description": adapter.describe(opts.config),
        "python": platform.python_version(),
        "latency_us": {kind: wall for kind, (wall, _) in paced.items()},
        "cpu_us": {kind: cpu for kind, (_, cpu) in paced.items()},
        "burst_fps": burst,
    }


def run_worker(adapter: Adapter, argv: Sequence[str] | None = None) -> None:
    """Entry point of a worker subprocess: measure one round, print the result as one JSON line."""
    parser = argparse.ArgumentParser(description=f"one round of framework_overhead for {adapter.framework}")
    parser.add_argument("--config", default="default")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--pause-ms", type=float, default=1.0)
    parser.add_argument("--burst", type=int, default=BURST_FRAMES)
    args = parser.parse_args(argv)
    opts = WorkerOptions(
        config=args.config,
        warmup=args.warmup,
        samples=args.samples,
        pause_s=args.pause_ms / 1000.0,
        burst=args.burst,
    )
    result = asyncio.run(measure(adapter, opts))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


# =====================================================================================================
# Driver: builds the pipecat venv, alternates the workers, prints the table.
# =====================================================================================================


def pipecat_venv_dir() -> Path:
    """Where the throwaway pipecat venv lives (outside the repository: nothing to gitignore)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "voxpipe-bench" / f"venv-pipecat-{PIPECAT_VERSION}"


def _installed_pipecat(python: Path) -> str | None:
    if not python.exists():
        return None
    probe = "from importlib.metadata import version; print(version('pipecat-ai'))"
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_pipecat_venv(venv: Path) -> Path | None:
    """The venv's python with pipecat-ai==0.0.75 installed (reused when it is already there), or None."""
    python = venv / "bin" / "python"
    if _installed_pipecat(python) == PIPECAT_VERSION:
        return python
    _log(f"building the pipecat venv at {venv} (pip install pipecat-ai=={PIPECAT_VERSION}) ...")
    try:
        if not python.exists():
            venv.parent.mkdir(parents=True, exist_ok=True)
            # This interpreter's venv module: pipecat then runs on the same Python version as voxpipe.
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"pipecat-ai=={PIPECAT_VERSION}",
            ],
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        _log(f"could not build the pipecat venv: {exc}")
        return None
    found = _installed_pipecat(python)
    if found != PIPECAT_VERSION:
        _log(f"the pipecat venv has pipecat-ai {found!r}, not {PIPECAT_VERSION}")
        return None
    return python


def _log(message: str) -> None:
    print(f"[framework_overhead] {message}", file=sys.stderr, flush=True)


def _run_worker_process(python: str, script: str, config: str, worker_args: list[str]) -> dict[str, Any]:
    command = [python, str(BENCH_DIR / script), "--config", config, *worker_args]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=BENCH_DIR)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"worker {script} --config {config} failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _per_hop(result: dict[str, Any], kind: str, hops: int, pct: str, metric: str = "latency_us") -> float:
    """Per-hop figure (µs) of one round: baseline subtracted, divided by the number of hops."""
    series = result[metric][kind]
    return (series[str(hops)][pct] - series["0"][pct]) / hops


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _fmt(value: float | None, width: int, digits: int = 2) -> str:
    if value is None or value != value:  # None or NaN
        return "n/a".rjust(width)
    return f"{value:{width}.{digits}f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0 or a != a or b != b:
        return None
    return a / b


def _verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "FAIL")


def _latency_table(
    rounds: dict[str, list[dict[str, Any]]], labels: list[str], metric: str, verdicts: dict[str, list[bool]]
) -> list[str]:
    """Rows of per-hop p50/p99 (medians of rounds) for every frame kind and size, ratios and verdicts."""
    has_pc = "pipecat-fastest" in labels
    out: list[str] = []
    head = f"{'frame':<6}{'N':>3} |" + "".join(f" {label + ' p50/p99':>27} |" for label in labels)
    if has_pc:
        head += f" {'vox/default p50/p99':>19} | {'vox/fastest p50/p99':>19} |"
        head += f" target <= {LATENCY_TARGET:.2f}x fastest"
    out += [head, "-" * len(head)]
    for kind in KINDS:
        for hops in HOPS:
            vals = {
                label: {
                    pct: _median([_per_hop(r, kind, hops, pct, metric) for r in rounds[label]])
                    for pct in ("p50", "p99")
                }
                for label in labels
            }
            line = f"{kind:<6}{hops:>3} |"
            for label in labels:
                line += f" {_fmt(vals[label]['p50'], 12)} {_fmt(vals[label]['p99'], 14)} |"
            if has_pc:
                for other in ("pipecat-default", "pipecat-fastest"):
                    r50 = _ratio(vals["voxpipe"]["p50"], vals[other]["p50"]) if other in vals else None
                    r99 = _ratio(vals["voxpipe"]["p99"], vals[other]["p99"]) if other in vals else None
                    line += f" {_fmt(r50, 8)}x {_fmt(r99, 8)}x |"
                for pct in ("p50", "p99"):
                    ratio = _ratio(vals["voxpipe"][pct], vals["pipecat-fastest"][pct])
                    ok = None if ratio is None else ratio <= LATENCY_TARGET
                    if ok is not None:
                        verdicts[pct].append(ok)
                    line += f" {pct} {_verdict(ok)}"
            out.append(line)
    return out


def report(rounds: dict[str, list[dict[str, Any]]], labels: list[str], *, elapsed_s: float) -> str:
    """The printed tables: medians of rounds, ratios, verdicts."""
    out: list[str] = []
    first = {label: rounds[label][0] for label in labels}
    n_rounds = min(len(rounds[label]) for label in labels)
    samples = int(first["voxpipe"]["latency_us"]["text"]["0"]["n"])
    has_pc = "pipecat-fastest" in labels
    out.append("voxpipe vs pipecat framework overhead (bench/framework_overhead.py)")
    out.append(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs; rounds per configuration: {n_rounds} "
        f"(figures are medians of rounds); paced samples per series per round: {samples}"
    )
    for label in labels:
        res = first[label]
        out.append(f"  {label:<16} {res['framework']} {res['version']}: {res['description']}")
    out.append("")
    out.append("Per-hop latency, µs per pass-through processor; one frame in flight, paced (wall clock):")
    out.append("  per hop = (pXX latency through N processors + sink - pXX through the sink alone) / N")
    out.append("  text = TextFrame (ordered lane), audio = InputAudioRawFrame (system frame, 20 ms 16 kHz)")
    wall: dict[str, list[bool]] = {"p50": [], "p99": []}
    out += _latency_table(rounds, labels, "latency_us", wall)
    out.append("")
    out.append(
        "Per-hop CPU time, µs, same samples (thread CPU clock: what the framework spent, without the time "
        "the process sat preempted by other work)"
    )
    cpu: dict[str, list[bool]] = {"p50": [], "p99": []}
    out += _latency_table(rounds, labels, "cpu_us", cpu)
    out.append("")
    out.append(
        "Baseline (sink alone) total wall latency, µs, p50/p99: queue_frame -> feed task -> edges -> sink"
    )
    for kind in KINDS:
        line = f"{kind:<6}    |"
        for label in labels:
            p50 = _median([r["latency_us"][kind]["0"]["p50"] for r in rounds[label]])
            p99 = _median([r["latency_us"][kind]["0"]["p99"] for r in rounds[label]])
            line += f" {_fmt(p50, 12)} {_fmt(p99, 14)} |"
        out.append(line)
    out.append("")
    out.append(
        f"Burst throughput, {BURST_FRAMES} TextFrames queued back to back, frames/s "
        "(first queued -> last at the sink):"
    )
    head = f"{'N':>9} |" + "".join(f" {label:>16} |" for label in labels)
    if has_pc:
        head += f" {'vox/default':>11} | {'vox/fastest':>11} | target >= {THROUGHPUT_TARGET:.2f}x fastest"
    out += [head, "-" * len(head)]
    burst: list[bool] = []
    for hops in HOPS:
        fps = {label: _median([r["burst_fps"][str(hops)] for r in rounds[label]]) for label in labels}
        line = f"{hops:>9} |" + "".join(f" {_fmt(fps[label], 16, 0)} |" for label in labels)
        if has_pc:
            to_default = _ratio(fps["voxpipe"], fps.get("pipecat-default"))
            to_fastest = _ratio(fps["voxpipe"], fps["pipecat-fastest"])
            ok = None if to_fastest is None else to_fastest >= THROUGHPUT_TARGET
            if ok is not None:
                burst.append(ok)
            line += f" {_fmt(to_default, 10)}x | {_fmt(to_fastest, 10)}x | {_verdict(ok)}"
        out.append(line)
    out.append("")
    if has_pc:

        def count(oks: list[bool]) -> str:
            return f"{sum(oks)}/{len(oks)} PASS"

        out.append(
            f"targets (DESIGN.md 8): per-hop <= {LATENCY_TARGET}x pipecat-fastest: "
            f"wall p50 {count(wall['p50'])}, wall p99 {count(wall['p99'])}, "
            f"CPU p50 {count(cpu['p50'])}, CPU p99 {count(cpu['p99'])}; "
            f"burst throughput >= {THROUGHPUT_TARGET}x: {count(burst)}"
        )
        out.append(
            "  (wall p99 per hop is a difference of two tail values, the figure most exposed to other work "
            "on a shared machine)"
        )
    else:
        out.append("pipecat skipped: no ratios, no verdicts")
    spread = []
    for label in labels:
        per_round = [_per_hop(r, "text", HOPS[-1], "p50") for r in rounds[label]]
        spread.append(f"{label} {min(per_round):.2f}..{max(per_round):.2f}")
    out.append(f"round-to-round spread of text N={HOPS[-1]} wall p50 per hop (µs): " + ", ".join(spread))
    load = os.getloadavg()
    out.append(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; took {elapsed_s:.0f} s")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table; always returns 0 (figures, not assertions)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and samples (about a minute)")
    parser.add_argument("--skip-pipecat", action="store_true", help="measure voxpipe only")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per configuration (5; quick 3)")
    parser.add_argument("--samples", type=int, default=None, help="paced samples per series (400; quick 120)")
    parser.add_argument("--pause-ms", type=float, default=1.0, help="pause between paced samples")
    parser.add_argument("--pipecat-venv", type=Path, default=None, help=f"default {pipecat_venv_dir()}")
    parser.add_argument("--json", type=Path, default=None, help="also write every round's raw results here")
    args = parser.parse_args(argv)
    rounds_n = args.rounds or (3 if args.quick else 5)
    samples = args.samples or (120 if args.quick else 400)
    warmup = 30 if args.quick else 50
    worker_args = [
        "--warmup",
        str(warmup),
        "--samples",
        str(samples),
        "--pause-ms",
        str(args.pause_ms),
        "--burst",
        str(BURST_FRAMES),
    ]

    began = time.monotonic()
    pythons = {"voxpipe": sys.executable}
    if not args.skip_pipecat:
        pc_python = ensure_pipecat_venv(args.pipecat_venv or pipecat_venv_dir())
        if pc_python is None:
            _log("continuing without pipecat (as with --skip-pipecat)")
        else:
            pythons["pipecat"] = str(pc_python)
    workers = [w for w in WORKERS if w[0] in pythons]
    labels = [f"{fw}-{cfg}" if fw == "pipecat" else fw for fw, _, cfg in workers]
    rounds: dict[str, list[dict[str, Any]]] = {label: [] for label in labels}
    plan = list(zip(workers, labels, strict=True))
    for r in range(rounds_n):
        shift = r % len(plan)
        for (framework, script, config), label in plan[shift:] + plan[:shift]:
            if framework not in pythons:
                continue
            t0 = time.monotonic()
            try:
                result = _run_worker_process(pythons[framework], script, config, worker_args)
            except RuntimeError as exc:
                if framework == "voxpipe":
                    raise
                _log(f"{exc}\ncontinuing without pipecat")
                del pythons[framework]
                continue
            rounds[label].append(result)
            text20 = _per_hop(result, "text", HOPS[-1], "p50")
            _log(
                f"round {r + 1}/{rounds_n} {label:<16} {time.monotonic() - t0:5.1f} s  "
                f"(text N={HOPS[-1]} p50 {text20:.2f} µs/hop, burst N={HOPS[-1]} "
                f"{result['burst_fps'][str(HOPS[-1])]:.0f} frames/s)"
            )
    labels = [label for label in labels if rounds[label] and (label == "voxpipe" or "pipecat" in pythons)]
    print(report(rounds, labels, elapsed_s=time.monotonic() - began))
    if args.json:
        args.json.write_text(json.dumps(rounds, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

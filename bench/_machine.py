"""What machine a bench ran on, in one line: figures from two machines are not comparable.

The team's machines are not always the same kind: on 2026-12-04 the 2-core machine that had been an Intel
CPU with AVX-512, VNNI and AMX became an AMD EPYC with AVX2 only, and the same code took about twice as
long for a Whisper pass (250-300 ms against 90-130) and read prompts at 45 tokens/s. A bench's figures
mean little without the CPU they were measured on, so each prints this line beside its load average.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["machine_line"]

#: The instruction-set extensions that change what the local models cost, in the order they are reported.
_EXTENSIONS = ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile")


def _cpuinfo() -> tuple[str, set[str]]:
    """The CPU's model name and flags from ``/proc/cpuinfo`` (empty where there is none: not Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or platform.machine(), set()
    model, flags = "", set[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return model or platform.machine(), flags


def machine_line() -> str:
    """``cpu <model> (<n> CPUs; <extensions>); load average at start <1 5 15 min>``."""
    model, flags = _cpuinfo()
    present = [name for name in _EXTENSIONS if name in flags]
    extensions = ", ".join(present) if present else "no AVX2"
    if flags and "avx512f" not in flags:
        extensions += "; no AVX-512"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"cpu {model} ({os.cpu_count()} CPUs; {extensions}); load average at start: {load}"

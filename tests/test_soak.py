"""The soak bench in short: 20 s of sessions with random seeded faults, and nothing breaks or leaks.

``bench/soak.py --ci`` runs the same for 60 s (and 10 minutes by default); this test keeps CI short.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parents[1] / "bench" / "soak.py"


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_a_short_soak_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("voxpipe_bench_soak", SOAK)
    assert spec is not None and spec.loader is not None
    soak = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = soak  # its dataclasses look their module up while being made
    try:
        spec.loader.exec_module(soak)
    finally:
        del sys.modules[spec.name]
    totals = await soak.main(20.0, seed=11, faults=2)
    report = capsys.readouterr().out
    assert totals.sessions >= 3 and sum(totals.injected.values()) >= 3, report
    assert totals.failures == [], report
    assert totals.clean, report  # tasks and descriptors back to their baseline

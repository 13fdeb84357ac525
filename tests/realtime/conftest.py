"""Fixtures for the protocol tests: the realtime event traces, kept in ``tests/fixtures/realtime-traces``."""

from __future__ import annotations

from pathlib import Path

import pytest

TRACES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "realtime-traces"


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    """The realtime traces folder (a copy of the team's ``reference/realtime-traces``, with its README)."""
    assert TRACES_DIR.is_dir(), TRACES_DIR
    return TRACES_DIR

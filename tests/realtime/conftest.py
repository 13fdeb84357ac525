"""Fixtures for the protocol tests: where the shared, read-only reference data lives.

The data is read in place from ``/work/shared`` (never copied into the repo): the directory is
``$VOXPIPE_SHARED_DIR`` when set, else ``<repo>/../shared``. Tests that need it skip when it is
missing, saying where they looked.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_dir() -> Path:
    """The shared reference directory (may not exist)."""
    env = os.environ.get("VOXPIPE_SHARED_DIR")
    if env:
        return Path(env)
    return (Path(__file__).resolve().parents[2] / ".." / "shared").resolve()


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    """``reference/realtime-traces`` of the shared directory; skips when absent."""
    path = shared_dir() / "reference" / "realtime-traces"
    if not path.is_dir():
        pytest.skip(f"realtime traces not found at {path} (set VOXPIPE_SHARED_DIR to the shared folder)")
    return path

"""The core tests share their small processors and fixtures with ``tests/processors``."""

from __future__ import annotations

from ..processors.conftest import Gate, PassThrough, Recorder, no_leaked_tasks

__all__ = ["Gate", "PassThrough", "Recorder", "no_leaked_tasks"]

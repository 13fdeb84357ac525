"""Whisper holds numpy's BLAS to one thread when it loads (no model needed: a stand-in WhisperModel)."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from voxpipe.server.engines.local.stt import WhisperSTTEngine

from ._local_support import require

require("threadpoolctl")

from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402


class StandInWhisper:
    """Loads instantly and transcribes nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass


def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


@pytest.fixture
def two_blas_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """numpy's BLAS at two threads for the test, as it was afterwards; Whisper replaced by a stand-in."""
    if not blas_threads():
        pytest.skip("numpy has no BLAS that threadpoolctl can see")
    module = types.ModuleType("faster_whisper")
    module.WhisperModel = StandInWhisper  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "faster_whisper", module)
    monkeypatch.setattr("voxpipe.server.engines.local.stt.whisper_tiny_en_path", lambda: Path("/nowhere"))
    limits = threadpool_limits(limits=2, user_api="blas")
    try:
        yield
    finally:
        limits.restore_original_limits()


@pytest.mark.usefixtures("two_blas_threads")
async def test_whisper_holds_blas_to_one_thread_when_it_loads() -> None:
    engine = WhisperSTTEngine()
    try:
        assert blas_threads() == {2}  # building the engine changes nothing
        engine._load()
        assert blas_threads() == {1}
    finally:
        await engine.aclose()


@pytest.mark.usefixtures("two_blas_threads")
async def test_blas_threads_none_leaves_them() -> None:
    engine = WhisperSTTEngine(blas_threads=None)
    try:
        engine._load()
        assert blas_threads() == {2}
    finally:
        await engine.aclose()

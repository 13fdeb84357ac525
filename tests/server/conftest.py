"""Fixtures of the server tests: an in-process server on a free loopback port, test engines."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from voxpipe.server import LocalRealtimeServer, ServerConfig


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    """A server with the test engines and default limits."""
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test")) as running:
        yield running


@pytest.fixture
async def slow_server() -> AsyncIterator[LocalRealtimeServer]:
    """A server whose LLM and TTS pause between words, so a "long story" (60 words) can be cut mid-way."""
    options = {"token_delay_s": 0.005, "tts_chunk_delay_s": 0.01, "story_words": 60}
    config = ServerConfig(port=0, engines="test", engine_options=options)
    async with LocalRealtimeServer(config) as running:
        yield running

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
    """A server whose LLM pauses 10 ms between words, so responses can be cancelled mid-way."""
    config = ServerConfig(port=0, engines="test", engine_options={"token_delay_s": 0.01})
    async with LocalRealtimeServer(config) as running:
        yield running

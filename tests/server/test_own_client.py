"""The same turns driven by voxpipe's own ``RealtimeClient`` (beta and GA; header and browser auth)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from voxpipe.realtime.client import RealtimeClient, RealtimeClientConfig, RealtimeVariant
from voxpipe.server import LocalRealtimeServer, ServerConfig

from ._support import WEATHER_TOOL, chunks, names, speech, text_session, user_text

pytestmark = pytest.mark.timeout(20)

KEY = "sk-local-test-key-0123456789"
VARIANTS = [
    pytest.param(RealtimeVariant.OPENAI_BETA, False, id="beta-header"),
    pytest.param(RealtimeVariant.OPENAI_GA, False, id="ga-header"),
    pytest.param(RealtimeVariant.OPENAI_BETA, True, id="beta-browser"),
    pytest.param(RealtimeVariant.OPENAI_GA, True, id="ga-browser"),
]


@pytest.fixture
async def keyed_server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test", api_key=KEY)) as running:
        yield running


@asynccontextmanager
async def client_for(
    server: LocalRealtimeServer, variant: RealtimeVariant, browser: bool
) -> AsyncIterator[RealtimeClient]:
    config = RealtimeClientConfig(
        api_key=KEY,
        variant=variant,
        base_url=server.realtime_url,
        browser_subprotocols=browser,
        ping_interval=None,
    )
    async with RealtimeClient(config) as client:
        yield client


async def until(client: RealtimeClient, event_type: str) -> list[Any]:
    events = []
    while True:
        event = await client.recv(timeout=5)
        events.append(event)
        if getattr(event, "type", None) == event_type:
            return events


@pytest.mark.parametrize(("variant", "browser"), VARIANTS)
async def test_text_and_function_turns(
    keyed_server: LocalRealtimeServer, variant: RealtimeVariant, browser: bool
) -> None:
    shape = variant.shape
    n = names(shape)
    async with client_for(keyed_server, variant, browser) as client:
        client.send({"type": "session.update", "session": text_session(shape, tools=[WEATHER_TOOL])})
        await until(client, "session.updated")
        client.send(user_text("Hello there"))
        client.send({"type": "response.create"})
        events = await until(client, "response.done")
        text = "".join(e.delta for e in events if getattr(e, "type", None) == n["text_delta"])
        assert text == "You said: Hello there."
        client.send(user_text("weather in Berlin please"))
        client.send({"type": "response.create"})
        events = await until(client, "response.done")
        call = next(e for e in events if getattr(e, "type", None) == "response.function_call_arguments.done")
        assert json.loads(call.arguments) == {"city": "Berlin"}


@pytest.mark.parametrize(("variant", "browser"), VARIANTS[:2])
async def test_audio_turn(keyed_server: LocalRealtimeServer, variant: RealtimeVariant, browser: bool) -> None:
    n = names(variant.shape)
    async with client_for(keyed_server, variant, browser) as client:
        for chunk in chunks(speech("good morning")):
            client.send({"type": "input_audio_buffer.append", "audio": chunk})
        events = await until(client, "response.done")
    kinds = [getattr(e, "type", None) for e in events]
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index("input_audio_buffer.committed")
    transcript = next(e for e in events if getattr(e, "type", None) == n["transcript_done"]).transcript
    assert transcript == "You said: good morning."

"""``AzureRealtimeLLMService``: the GA service reached the Azure way (URL form and ``api-key`` header)."""

from __future__ import annotations

import asyncio

import pytest

from voxpipe.frames.frames import LLMFullResponseEndFrame, LLMMessagesAppendFrame, LLMTextFrame
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineTask
from voxpipe.services.openai_realtime import AzureRealtimeLLMService, SessionProperties
from voxpipe.testing import FakeRealtimeServer, expect

from ..openai_realtime_beta.rig import Recorder


@pytest.mark.parametrize(
    ("suffix", "deployment", "model"),
    [
        ("", "rt-prod", "rt-prod"),  # the resource endpoint and a deployment name
        ("/openai/v1/realtime?model=rt-eu", None, "rt-eu"),  # the full URL as the portal shows it
    ],
)
async def test_azure_ga_connects_with_its_url_and_api_key(
    suffix: str, deployment: str | None, model: str
) -> None:
    async with FakeRealtimeServer([expect("session.update")], auto_session_updated=True) as server:
        base = server.url.removesuffix("/v1/realtime") + suffix
        service = AzureRealtimeLLMService(api_key="azure-key-123", base_url=base, deployment=deployment)
        task = PipelineTask(Pipeline([service]))
        runner = asyncio.create_task(task.run())
        await server.assert_done()
        await task.stop_when_done()
        await runner
    handshake = server.connections[0].handshake
    assert handshake.path == "/openai/v1/realtime"
    assert handshake.query == {"model": model}
    assert handshake.headers["api-key"] == "azure-key-123"
    assert "authorization" not in handshake.headers and "openai-beta" not in handshake.headers
    update = server.received("session.update")[0]["session"]
    assert update["type"] == "realtime"  # a GA session


async def test_azure_ga_answers_through_a_ga_server() -> None:
    from voxpipe.server import LocalRealtimeServer, ServerConfig
    from voxpipe.testing.faults import FaultProxy

    # The local server speaks GA and reads the key from api-key as Azure does; a transparent proxy stands
    # in for the Azure resource.
    config = ServerConfig(port=0, engines="test")
    async with LocalRealtimeServer(config) as server, FaultProxy(server.realtime_url) as proxy:
        url = proxy.url + "?model=rt"
        service = AzureRealtimeLLMService(
            api_key="local",
            base_url=url,
            session_properties=SessionProperties(modalities=["text"], turn_detection=False),
        )
        down = Recorder()
        task = PipelineTask(Pipeline([service, down]))
        runner = asyncio.create_task(task.run())
        await task.queue_frame(LLMMessagesAppendFrame(messages=[{"role": "user", "content": "hello azure"}]))
        await down.wait_for(lambda: bool(down.of(LLMFullResponseEndFrame)), timeout=15)
        await task.stop_when_done()
        await runner
    assert "hello azure" in "".join(f.text for f in down.of(LLMTextFrame)).lower()

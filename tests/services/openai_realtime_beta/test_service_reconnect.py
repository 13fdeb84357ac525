"""A dropped socket: the service reconnects and replays its session settings and conversation history."""

from __future__ import annotations

from voxpipe.frames.frames import LLMContextFrame, TranscriptionFrame
from voxpipe.realtime.client import ReconnectPolicy
from voxpipe.services.openai_realtime_beta import OpenAIRealtimeLLMContext
from voxpipe.services.openai_realtime_beta.events import SessionProperties
from voxpipe.testing import drop, expect, next_connection, send

from .rig import rig


async def test_reconnect_replays_settings_and_history() -> None:
    props = SessionProperties(instructions="Be brief.")
    script = [
        expect("session.update", session={"instructions": "Be brief."}),
        expect(
            "conversation.item.create",
            item={"role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        ),
        expect("response.create"),
        send({"type": "response.created", "response": {"id": "r1", "status": "in_progress", "output": []}}),
        drop(),
        next_connection(),
        expect("session.update", session={"instructions": "Be brief."}),
        expect(
            "conversation.item.create",
            item={"role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        ),
        expect("response.create"),  # the answer was asked for and nothing of it was heard: asked again
        send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "item_u9",
                "content_index": 0,
                "transcript": "still here",
            }
        ),
    ]
    kwargs = {"session_properties": props, "reconnect": ReconnectPolicy(base_delay=0.01, jitter=0.0)}
    async with rig(script, service_kwargs=kwargs) as r:
        context = OpenAIRealtimeLLMContext(messages=[{"role": "user", "content": "Hi"}])
        await r.task.queue_frame(LLMContextFrame(context=context))
        await r.down.wait_for(lambda: bool(r.down.of(TranscriptionFrame)))
    assert len(r.server.connections) == 2
    # The answer that died with the old session was asked for again on the new one (and only once).
    assert len(r.server.received("response.create")) == 2


async def test_azure_variant_connects_with_its_url_and_api_key() -> None:
    from voxpipe.pipeline.pipeline import Pipeline
    from voxpipe.pipeline.task import PipelineTask
    from voxpipe.services.openai_realtime_beta import AzureRealtimeBetaLLMService
    from voxpipe.testing import FakeRealtimeServer

    async with FakeRealtimeServer([expect("session.update")], auto_session_updated=True) as server:
        base = server.url.removesuffix("/v1/realtime")
        service = AzureRealtimeBetaLLMService(
            api_key="azure-key-123",
            base_url=f"{base}/openai/realtime?api-version=2025-04-01-preview&deployment=rt",
        )
        task = PipelineTask(Pipeline([service]))
        import asyncio

        runner = asyncio.create_task(task.run())
        await server.assert_done()
        await task.stop_when_done()
        await runner
    handshake = server.connections[0].handshake
    assert handshake.path == "/openai/realtime"
    assert handshake.query == {"api-version": "2025-04-01-preview", "deployment": "rt"}
    assert handshake.headers["api-key"] == "azure-key-123"
    assert "authorization" not in handshake.headers and "openai-beta" not in handshake.headers

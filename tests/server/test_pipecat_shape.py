"""What pipecat 0.0.75's beta service needs from a server (protocol reference, section 12), checked on the
wire: only the 30 server event types it knows, server-created responses under server VAD, the client's
own item ids echoed, ``content[0]`` on user audio items, full ``usage`` in every ``response.done``, and
``error.event_id`` echoed for ``item_retrieve_invalid_item_id``."""

from __future__ import annotations

import pytest

from voxpipe.server import LocalRealtimeServer

from ._support import RawClient, chunks, speech

pytestmark = pytest.mark.timeout(20)

PIPECAT_SERVER_TYPES = {
    "error", "session.created", "session.updated", "conversation.created", "conversation.item.created",
    "conversation.item.retrieved", "conversation.item.truncated", "conversation.item.deleted",
    "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.completed",
    "conversation.item.input_audio_transcription.failed", "input_audio_buffer.committed",
    "input_audio_buffer.cleared", "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
    "response.created", "response.done", "response.output_item.added", "response.output_item.done",
    "response.content_part.added", "response.content_part.done", "response.text.delta", "response.text.done",
    "response.audio_transcript.delta", "response.audio_transcript.done", "response.audio.delta",
    "response.audio.done", "response.function_call_arguments.delta", "response.function_call_arguments.done",
    "rate_limits.updated",
}  # fmt: skip

PIPECAT_SESSION = {
    "modalities": ["audio", "text"],
    "instructions": "You are helpful.",
    "voice": "alloy",
    "input_audio_format": "pcm16",
    "output_audio_format": "pcm16",
    "input_audio_transcription": {"model": "gpt-4o-transcribe"},
    "turn_detection": {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 800,
        "idle_timeout_ms": 6000,
    },
    "tools": [],
    "tool_choice": "auto",
    "temperature": 0.8,
    "max_response_output_tokens": "inf",
}


async def test_pipecat_style_session(server: LocalRealtimeServer) -> None:
    client = await RawClient.connect(server.realtime_url, "beta", model="gpt-4o-realtime-preview-2025-06-03")
    await client.recv()
    await client.send({"type": "session.update", "session": PIPECAT_SESSION, "event_id": "e1"})
    await client.recv_until("session.updated")
    history_id = "0123456789abcdef0123456789abcdef"
    await client.send(
        {
            "type": "conversation.item.create",
            "event_id": "e2",
            "item": {
                "id": history_id,
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}],
            },
        }
    )
    created = await client.recv_until("conversation.item.created")
    assert created[-1]["item"]["id"] == history_id
    for chunk in chunks(speech("how are you", tail_ms=1000)):
        await client.send({"type": "input_audio_buffer.append", "audio": chunk, "event_id": "e3"})
    events = await client.recv_until("response.done")
    events += await client.recv_until("rate_limits.updated")
    user_item = next(e["item"] for e in events if e["type"] == "conversation.item.created")
    assert user_item["content"][0] == {"type": "input_audio", "transcript": None}
    assert any(e["type"] == "conversation.item.input_audio_transcription.completed" for e in events)
    usage = next(e for e in events if e["type"] == "response.done")["response"]["usage"]
    assert {
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "input_token_details",
        "output_token_details",
    } <= set(usage)
    await client.send({"type": "conversation.item.retrieve", "item_id": "gone", "event_id": "rci_gone"})
    error = await client.recv()
    assert (
        error["error"]["code"] == "item_retrieve_invalid_item_id" and error["error"]["event_id"] == "rci_gone"
    )
    events += await client.quiet(0.3)  # beta never sends timeout_triggered, even with idle_timeout_ms set
    assert {e["type"] for e in client.received} <= PIPECAT_SERVER_TYPES
    await client.aclose()

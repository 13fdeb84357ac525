"""Session behaviour: update merging, manual turns, G.711, barge-in, semantic VAD, transcription events,
per-response overrides, token limits, idle timeout and session expiry."""

from __future__ import annotations

import base64

import pytest
import websockets

from voxpipe.audio import alaw_decode, alaw_encode, silence, ulaw_decode, ulaw_encode
from voxpipe.audio import resample as resample_clip
from voxpipe.server import LocalRealtimeServer, ServerConfig, ServerLimits
from voxpipe.server.engines.testing import decode_tones, encode_tones

from ._support import WEATHER_TOOL, RawClient, chunks, names, speech, text_session, user_text

pytestmark = pytest.mark.timeout(20)


async def connect(server: LocalRealtimeServer, shape: str = "beta") -> RawClient:
    client = await RawClient.connect(server.realtime_url, shape)
    assert (await client.recv())["type"] == "session.created"
    return client


async def update(client: RawClient, session: dict[str, object]) -> dict[str, object]:
    await client.send({"type": "session.update", "session": session})
    events = await client.recv_until("session.updated")
    assert [e["type"] for e in events] == ["session.updated"], events
    return events[-1]["session"]


async def test_partial_updates_merge(server: LocalRealtimeServer) -> None:
    client = await connect(server, "beta")
    session = await update(
        client,
        {"instructions": "Be terse.", "turn_detection": {"type": "server_vad", "silence_duration_ms": 700}},
    )
    assert session["voice"] == "alloy" and session["instructions"] == "Be terse."
    assert session["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 700,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }
    session = await update(client, {"voice": "verse"})
    assert session["instructions"] == "Be terse." and session["voice"] == "verse"
    assert session["turn_detection"]["silence_duration_ms"] == 700
    await client.aclose()
    ga = await connect(server, "ga")
    session = await update(ga, {"type": "realtime", "audio": {"output": {"voice": "marin"}}})
    assert session["audio"]["output"]["voice"] == "marin"
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    await ga.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}},
            },
        }
    )
    error = await ga.recv()
    assert error["error"]["code"] == "integer_below_min_value"
    assert error["error"]["param"] == "session.audio.input.format.rate"
    await ga.send({"type": "session.update", "session": {"output_modalities": ["text"]}})
    assert (await ga.recv())["error"]["param"] == "session.type"
    await ga.aclose()


@pytest.mark.parametrize(
    ("shape", "law"), [("beta", "ulaw"), ("ga", "ulaw"), ("beta", "alaw"), ("ga", "alaw")]
)
async def test_manual_turn_in_g711_with_transcription(
    server: LocalRealtimeServer, shape: str, law: str
) -> None:
    n = names(shape)
    client = await connect(server, shape)
    encode, decode = (ulaw_encode, ulaw_decode) if law == "ulaw" else (alaw_encode, alaw_decode)
    if shape == "beta":
        await update(
            client,
            {
                "turn_detection": None,
                "input_audio_format": f"g711_{law}",
                "output_audio_format": f"g711_{law}",
                "input_audio_transcription": {"model": "whisper-1"},
            },
        )
    else:
        fmt = {"type": "audio/pcmu" if law == "ulaw" else "audio/pcma"}
        await update(
            client,
            {
                "type": "realtime",
                "audio": {
                    "input": {"format": fmt, "turn_detection": None, "transcription": {"model": "whisper-1"}},
                    "output": {"format": fmt},
                },
            },
        )
    narrow = encode(resample_clip(speech("call me maybe", lead_ms=100, tail_ms=100), 24000, 8000))
    for start in range(0, len(narrow), 320):
        await client.send(
            {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(narrow[start : start + 320]).decode(),
            }
        )
    await client.send({"type": "input_audio_buffer.commit"})
    events = await client.recv_until("input_audio_buffer.committed")
    assert [e["type"] for e in events] == ["input_audio_buffer.committed"]  # no VAD events, no response
    await client.send({"type": "response.create"})
    events = await client.recv_until("response.done")
    completed = next(
        e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed"
    )
    assert completed["transcript"] == "call me maybe"
    transcript = next(e for e in events if e["type"] == n["transcript_done"])["transcript"]
    assert transcript == "You said: call me maybe."
    audio = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == n["audio_delta"])
    assert decode_tones(decode(audio), 8000) == "you said: call me maybe."
    await client.aclose()


async def test_barge_in_cancels_with_turn_detected(slow_server: LocalRealtimeServer) -> None:
    client = await connect(slow_server, "beta")
    for chunk in chunks(speech("a long story")):
        await client.send({"type": "input_audio_buffer.append", "audio": chunk})
    await client.recv_until("response.audio.delta")
    for chunk in chunks(speech("stop", lead_ms=0)):
        await client.send({"type": "input_audio_buffer.append", "audio": chunk})
    events = await client.recv_until("response.done")
    kinds = [e["type"] for e in events]
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index("response.done")
    assert kinds[-5:] == [
        "response.audio.done",
        "response.audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    done = events[-1]["response"]
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    assert done["output"][0]["status"] == "incomplete"
    rest = await client.recv_until("response.done")
    assert (
        next(e for e in rest if e["type"] == "response.audio_transcript.done")["transcript"]
        == "You said: stop."
    )
    await client.aclose()


async def test_semantic_vad_waits_longer_for_unfinished_words(server: LocalRealtimeServer) -> None:
    async def stop_delay(words: str) -> int:
        client = await connect(server, "beta")
        await update(client, {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}})
        audio = silence(300, 24000) + encode_tones(words) + silence(2000, 24000)
        sent_ms = 0
        stop_at = -1
        for chunk in chunks(audio, 20):
            await client.send({"type": "input_audio_buffer.append", "audio": chunk})
            sent_ms += 20
            # a marker whose error answer arrives after whatever this append caused (events are in order)
            await client.send(
                {"type": "conversation.item.retrieve", "item_id": "none", "event_id": f"m{sent_ms}"}
            )
            for event in await client.recv_until("error"):
                if event["type"] == "input_audio_buffer.speech_stopped":
                    stop_at = sent_ms
                    assert event["audio_end_ms"] == 300 + 30 * len(words)
        await client.aclose()
        return stop_at - (300 + 30 * len(words))

    finished = await stop_delay("all done.")
    unfinished = await stop_delay("and then")
    assert 200 <= finished < 350  # a confident end: the first look, after 200 ms of silence
    assert 750 <= unfinished < 900  # three times as long when the words do not end a sentence


@pytest.mark.parametrize("shape", ["beta", "ga"])
async def test_response_overrides(server: LocalRealtimeServer, shape: str) -> None:
    n = names(shape)
    client = await connect(server, shape)
    await update(client, text_session(shape, tools=[WEATHER_TOOL]))
    await client.send(user_text("weather in Rome"))
    overrides: dict[str, object] = {
        "instructions": "Answer: Ciao!",
        "tool_choice": "none",
        "metadata": {"turn": "1"},
    }
    overrides.update(
        {"modalities": ["audio", "text"], "voice": "ash"}
        if shape == "beta"
        else {"output_modalities": ["audio"], "audio": {"output": {"voice": "ash"}}}
    )
    await client.send({"type": "response.create", "response": overrides})
    events = await client.recv_until("response.done")
    assert next(e for e in events if e["type"] == n["transcript_done"])["transcript"] == "Ciao!"
    done = events[-1]["response"]
    assert done["metadata"] == {"turn": "1"}
    assert (done["voice"] if shape == "beta" else done["audio"]["output"]["voice"]) == "ash"
    limit_key = "max_response_output_tokens" if shape == "beta" else "max_output_tokens"
    await client.send(
        {
            "type": "response.create",
            "response": {"instructions": "Answer: one two three four", limit_key: 2, "tools": []},
        }
    )
    events = await client.recv_until("response.done")
    done = events[-1]["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert done["output"][0]["content"][0]["text"] == "one two"
    await client.aclose()


async def test_idle_timeout_prompts_a_response() -> None:
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test")) as server:
        client = await connect(server, "ga")
        await update(
            client,
            {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000}}},
            },
        )
        for chunk in chunks(speech("hi", tail_ms=400)):
            await client.send({"type": "input_audio_buffer.append", "audio": chunk})
        await client.recv_until("rate_limits.updated")
        for chunk in chunks(silence(5100, 24000), 100):
            await client.send({"type": "input_audio_buffer.append", "audio": chunk})
        events = await client.recv_until("response.done")
        kinds = [e["type"] for e in events]
        assert kinds[:2] == ["input_audio_buffer.timeout_triggered", "input_audio_buffer.committed"]
        timeout = events[0]
        assert timeout["audio_end_ms"] - timeout["audio_start_ms"] >= 5000
        await client.aclose()


@pytest.mark.parametrize("shape", ["beta", "ga"])
async def test_session_expires(shape: str) -> None:
    config = ServerConfig(port=0, engines="test", limits=ServerLimits(max_session_s=0.3))
    async with LocalRealtimeServer(config) as server:
        client = await connect(server, shape)
        error = await client.recv(2)
        assert error["error"]["code"] == "session_expired"
        assert error["error"]["message"] == "Your session hit the maximum duration of 0.3 seconds."
        with pytest.raises(websockets.ConnectionClosedOK):
            await client.recv(2)
        assert client.ws.close_code == 1001

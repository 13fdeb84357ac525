"""The fault proxy: every fault kind fires at its trigger, does what it says, and is counted.

A plain ``websockets`` client talks through the proxy to ``voxpipe serve`` (test engines) on loopback, so
each test sees exactly what a realtime client would see.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from voxpipe.server import LocalRealtimeServer, ServerConfig
from voxpipe.testing import faults
from voxpipe.testing.faults import RANDOM_FAULTS, WRONG_FIELD_VARIANTS, FaultKind, FaultProxy, Scenario

from .._shared import WEATHER_TOOL


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test")) as running:
        yield running


class Client:
    """A raw client that keeps every frame it received, JSON or not."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.frames: list[str | bytes] = []

    @classmethod
    async def open(cls, url: str, *, beta: bool = True, **kwargs: Any) -> Client:
        headers = {"OpenAI-Beta": "realtime=v1"} if beta else {}
        headers.update(kwargs.pop("additional_headers", {}))
        ws = await websockets.connect(
            f"{url}?model=gpt-realtime", additional_headers=headers, max_size=None, **kwargs
        )
        return cls(ws)

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(event))

    def types(self) -> list[str | None]:
        out: list[str | None] = []
        for frame in self.frames:
            try:
                out.append(json.loads(frame).get("type"))
            except (ValueError, RecursionError, AttributeError):
                out.append(None)
        return out

    async def read_until(self, event_type: str, timeout: float = 10.0) -> None:
        """Read until ``event_type`` arrives (or the link ends: ConnectionClosed propagates)."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.ws.recv()
                self.frames.append(frame)
                if event_type in self.types()[-1:]:
                    return

    async def read_to_end(self, timeout: float = 10.0) -> None:
        """Read until the link closes."""
        try:
            await self.read_until("never.arrives", timeout)
        except ConnectionClosed:
            return

    async def text_turn(self, text: str, *, tools: bool = False) -> None:
        session: dict[str, Any] = {"modalities": ["text"], "turn_detection": None}
        if tools:
            session["tools"] = [WEATHER_TOOL]
        await self.send({"type": "session.update", "session": session})
        await self.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        )
        await self.send({"type": "response.create"})


async def turn_through(
    server: LocalRealtimeServer, planned: list[Any], text: str = "hello there", **kwargs: Any
) -> tuple[FaultProxy, Client]:
    async with FaultProxy(server.realtime_url, Scenario(planned)) as proxy:
        client = await Client.open(proxy.url)
        await client.text_turn(text, **kwargs)
        if planned and planned[0].kind in _ENDING:
            await client.read_to_end()
        else:
            await client.read_until("response.done")
        await client.ws.close()
    return proxy, client


_ENDING = {FaultKind.DROP, FaultKind.CLOSE, FaultKind.EXPIRY}


async def test_without_faults_the_proxy_is_transparent(server: LocalRealtimeServer) -> None:
    proxy, client = await turn_through(server, [])
    types = client.types()
    assert types[0] == "session.created" and types[-1] == "response.done"
    assert "response.text.delta" in types
    assert sum(proxy.injected.values()) == 0 and proxy.connections == 1


async def test_a_refused_handshake_is_refused_to_the_client_with_the_same_status(server) -> None:
    async with FaultProxy(server.realtime_url) as proxy:
        with pytest.raises(InvalidStatus) as info:
            await Client.open(proxy.url.replace("/v1/realtime", "/v1/nowhere"))
        assert info.value.response.status_code == 403  # what the server answers an unknown WebSocket path


async def test_the_servers_close_code_reaches_the_client() -> None:
    config = ServerConfig(port=0, engines="test", api_key="sk-right-key-123456")
    async with LocalRealtimeServer(config) as srv, FaultProxy(srv.realtime_url) as proxy:
        client = await Client.open(
            proxy.url, beta=False, additional_headers={"Authorization": "Bearer sk-wrong-key-1234567"}
        )
        await client.read_to_end()
    assert client.types() == ["error"]
    assert client.ws.close_code == 3000  # as the server sent it, not the proxy's own


@pytest.mark.parametrize(
    ("fault", "lost"),
    [
        (faults.drop_before_response(), "response.created"),
        (faults.drop_during_response(nth=2), "response.done"),
        (faults.drop_after_response(), None),
    ],
)
async def test_drops_cut_the_link_without_a_close_frame(server, fault, lost) -> None:
    proxy, client = await turn_through(server, [fault])
    assert client.ws.close_code == 1006  # the link died: no close frame
    assert proxy.injected == {FaultKind.DROP: 1}
    if lost is not None:
        assert lost not in client.types()
    else:
        assert client.types()[-1] == "response.done"


async def test_drop_during_response_lets_the_nth_delta_through_first(server: LocalRealtimeServer) -> None:
    _, client = await turn_through(server, [faults.drop_during_response(nth=2)])
    assert client.types().count("response.text.delta") == 2


async def test_drop_during_a_function_call(server: LocalRealtimeServer) -> None:
    proxy, client = await turn_through(
        server, [faults.drop_during_function_call()], "weather in Paris", tools=True
    )
    assert client.types()[-1] == "response.function_call_arguments.done"
    assert client.ws.close_code == 1006 and proxy.injected[FaultKind.DROP] == 1


async def test_drop_while_audio_streams_counts_the_client_appends(server: LocalRealtimeServer) -> None:
    async with FaultProxy(server.realtime_url, Scenario([faults.drop_while_audio_streams(nth=3)])) as proxy:
        client = await Client.open(proxy.url)
        sent = 0
        with pytest.raises(ConnectionClosed):
            for _ in range(50):
                await client.send({"type": "input_audio_buffer.append", "audio": "AAAAAAAA"})
                sent += 1
                await asyncio.sleep(0.01)
        await client.read_to_end()
    assert 3 <= sent < 50
    assert proxy.history[0].trigger == "input_audio_buffer.append"


async def test_stall_holds_the_server_events_back(server: LocalRealtimeServer) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    proxy, client = await turn_through(server, [faults.stall(0.5)])
    assert loop.time() - start >= 0.5
    assert client.types()[-1] == "response.done" and proxy.injected == {FaultKind.STALL: 1}


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        (faults.unknown_event(), lambda frames, types: "voxpipe_fault.unheard_of" in types),
        (faults.malformed_json(), lambda frames, types: None in types),
        (faults.deep_nesting(3000), lambda frames, types: any(len(f) > 6000 for f in frames)),
        (faults.error_event("server_error"), lambda frames, types: "error" in types),
    ],
)
async def test_injections_arrive_after_their_trigger_and_the_session_goes_on(server, fault, check) -> None:
    proxy, client = await turn_through(server, [fault])
    types = client.types()
    assert check(client.frames, types)
    assert types[-1] == "response.done"  # the real session went on
    assert proxy.injected == {fault.kind: 1}
    assert proxy.history[0].trigger == "response.created"


@pytest.mark.parametrize("variant", range(len(WRONG_FIELD_VARIANTS)))
async def test_wrong_fields_send_a_known_event_with_a_bad_field(server, variant: int) -> None:
    _, client = await turn_through(server, [faults.wrong_fields(variant)])
    index = client.types().index("response.created") + 1
    bad = json.loads(client.frames[index])
    expected = {
        "audio_delta_not_a_string": lambda e: e["type"] == "response.audio.delta" and e["delta"] == 12345,
        "response_done_without_response": lambda e: e["type"] == "response.done" and e["response"] is None,
        "session_updated_not_an_object": lambda e: isinstance(e["session"], str),
        "item_created_without_item": lambda e: e["type"] == "conversation.item.created" and "item" not in e,
        "text_delta_missing": lambda e: e["type"] == "response.text.delta" and "delta" not in e,
        "error_without_error": lambda e: e["type"] == "error" and e["error"] is None,
    }
    assert expected[WRONG_FIELD_VARIANTS[variant]](bad)


async def test_ga_connections_get_ga_names(server: LocalRealtimeServer) -> None:
    async with FaultProxy(server.realtime_url, Scenario([faults.wrong_fields(0)])) as proxy:
        client = await Client.open(proxy.url, beta=False)
        await client.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "output_modalities": ["text"],
                    "audio": {"input": {"turn_detection": None}},
                },
            }
        )
        await client.send({"type": "response.create"})
        await client.read_until("response.done")
        await client.ws.close()
    assert "response.output_audio.delta" in client.types()


async def test_duplicate_delivers_the_event_twice(server: LocalRealtimeServer) -> None:
    proxy, client = await turn_through(server, [faults.duplicate()])
    created = [f for f in client.frames if json.loads(f)["type"] == "conversation.item.created"]
    assert created[0] == created[1]
    assert proxy.injected == {FaultKind.DUPLICATE: 1}


async def test_expiry_sends_session_expired_then_closes_1001(server: LocalRealtimeServer) -> None:
    _, client = await turn_through(server, [faults.expiry()])
    error = json.loads(client.frames[-1])
    assert error["error"]["code"] == "session_expired"
    assert client.ws.close_code == 1001 and "maximum duration" in client.ws.close_reason


@pytest.mark.parametrize("code", [1000, 1011, 4000])
async def test_close_with_a_code(server: LocalRealtimeServer, code: int) -> None:
    proxy, client = await turn_through(server, [faults.close_with(code)])
    assert client.ws.close_code == code and proxy.injected == {FaultKind.CLOSE: 1}


async def test_faults_fire_in_order_across_connections(server: LocalRealtimeServer) -> None:
    scenario = Scenario([faults.drop_after_response(), faults.unknown_event()])
    async with FaultProxy(server.realtime_url, scenario) as proxy:
        first = await Client.open(proxy.url)
        await first.text_turn("one")
        await first.read_to_end()
        assert [f.name for f in proxy.remaining] == ["unknown_event"]
        second = await Client.open(proxy.url)
        await second.text_turn("two")
        await second.read_until("response.done")
        await second.ws.close()
    assert [(h.name, h.connection) for h in proxy.history] == [
        ("drop_after_response", 1),
        ("unknown_event", 2),
    ]
    assert proxy.connections == 2 and not proxy.remaining


@pytest.mark.parametrize("beta", [True, False])
async def test_stuck_speech_tells_the_client_speech_started_after_its_append(
    server: LocalRealtimeServer, beta: bool
) -> None:
    async with FaultProxy(server.realtime_url, Scenario([faults.stuck_speech(nth=2)])) as proxy:
        client = await Client.open(proxy.url, beta=beta)
        await client.read_until("session.created")
        silent = base64.b64encode(bytes(4800)).decode("ascii")  # 100 ms of digital silence
        for _ in range(3):
            await client.send({"type": "input_audio_buffer.append", "audio": silent})
        await client.read_until("input_audio_buffer.speech_started")
        await client.ws.close()
    event = json.loads(client.frames[-1])
    assert event["audio_start_ms"] == 0 and event["item_id"]  # a whole event, the same in both shapes
    assert proxy.injected == {FaultKind.SPEECH_STARTED: 1}
    assert [h.trigger for h in proxy.history] == ["input_audio_buffer.append"]


@pytest.mark.parametrize("beta", [True, False])
async def test_a_late_speech_stopped_comes_on_the_next_session_after_a_stuck_speech_started(
    server: LocalRealtimeServer, beta: bool
) -> None:
    scenario = Scenario([faults.stuck_speech(), faults.speech_stopped()])
    async with FaultProxy(server.realtime_url, scenario) as proxy:
        first = await Client.open(proxy.url, beta=beta)
        await first.read_until("session.created")
        silent = base64.b64encode(bytes(4800)).decode("ascii")  # 100 ms of digital silence
        await first.send({"type": "input_audio_buffer.append", "audio": silent})
        await first.read_until("input_audio_buffer.speech_started")
        await first.ws.close()
        second = await Client.open(proxy.url, beta=beta)  # the client rotated: the late end comes here
        await second.read_until("input_audio_buffer.speech_stopped")
        await second.ws.close()
    event = json.loads(second.frames[-1])
    assert event["audio_end_ms"] == 0 and event["item_id"]  # a whole event, the same in both shapes
    assert proxy.injected == {FaultKind.SPEECH_STARTED: 1, FaultKind.SPEECH_STOPPED: 1}
    assert [(h.connection, h.trigger) for h in proxy.history] == [
        (1, "input_audio_buffer.append"),
        (2, "session.created"),
    ]


def test_random_scenarios_are_reproducible_and_cover_every_kind() -> None:
    one = Scenario.random(7, 40)
    assert [f.name for f in one.faults] == [f.name for f in Scenario.random(7, 40).faults]
    assert [f.name for f in one.faults] != [f.name for f in Scenario.random(8, 40).faults]
    kinds = {f.kind for f in Scenario.random(1, 400).faults}
    # LOSE is staged before a drop only: alone, a server that never sends an event breaks the protocol;
    # SPEECH_STARTED leaves a turn open that only near-silent audio and a session age make a client end,
    # and SPEECH_STOPPED is the late end of such a turn
    assert kinds == set(FaultKind) - {FaultKind.LOSE, FaultKind.SPEECH_STARTED, FaultKind.SPEECH_STOPPED}
    assert {f.kind for f in Scenario.random(3, 20, kinds=["stall"]).faults} == {FaultKind.STALL}
    assert "drop_while_audio_streams" in RANDOM_FAULTS


@pytest.mark.parametrize("fresh_ids", [True, False])
async def test_replay_answer_sends_the_last_answers_deltas_again(server, fresh_ids: bool) -> None:
    fault = faults.replay_answer(on=("response.done",), fresh_ids=fresh_ids)
    async with FaultProxy(server.realtime_url, Scenario([fault])) as proxy:
        client = await Client.open(proxy.url)
        await client.text_turn("hello there")
        await client.read_until("response.done")
        done = len(client.frames)
        await client.send({"type": "input_audio_buffer.clear"})  # something after, to read up to
        await client.read_until("input_audio_buffer.cleared")
        await client.ws.close()
    events = [json.loads(f) for f in client.frames]
    sent = [e for e in events[:done] if e["type"] == "response.text.delta"]
    again = [e for e in events[done:] if e["type"] == "response.text.delta"]
    assert sent and [e["delta"] for e in again] == [e["delta"] for e in sent]
    assert [e["response_id"] for e in again] == [e["response_id"] for e in sent]
    ids_kept = [e["event_id"] for e in again] == [e["event_id"] for e in sent]
    assert ids_kept is not fresh_ids
    assert proxy.injected == {FaultKind.REPLAY: 1}

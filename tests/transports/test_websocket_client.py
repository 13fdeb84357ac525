"""The WebSocket client transport (a bot dialling out) with raw PCM, against a loopback server."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from voxpipe.errors import ConnectionFailedError
from voxpipe.frames.frames import EndFrame, InputAudioRawFrame
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.processors.frame_processor import FrameDirection
from voxpipe.serializers import InputDTMFFrame, RawPCMSerializer
from voxpipe.transports.websocket import LinkState, WebsocketClientTransport, WebsocketParams

from .test_websocket_fakes import Bot, assert_no_stray_tasks, tone


async def test_client_sends_and_receives_pcm_and_ends_when_the_server_closes() -> None:
    received: list[bytes] = []
    pcm = tone(400, 16000)

    async def handler(connection: ServerConnection) -> None:
        assert connection.request is not None
        assert connection.request.headers["X-Call"] == "42"
        for offset in range(0, len(pcm), 640):
            await connection.send(pcm[offset : offset + 640])
            await asyncio.sleep(0.02)
        await connection.send("a text message is malformed for raw PCM")
        try:
            async with asyncio.timeout(2):
                while sum(map(len, received)) < len(pcm):
                    message = await connection.recv()
                    assert isinstance(message, bytes)
                    received.append(message)
        except (TimeoutError, ConnectionClosed):
            pass
        await connection.close()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        transport = WebsocketClientTransport(
            f"ws://127.0.0.1:{port}",
            WebsocketParams(serializer=RawPCMSerializer(16000)),
            headers={"X-Call": "42"},
        )
        events: list[tuple[str, Any]] = []
        transport.add_event_handler("on_connected", lambda t, ws: events.append(("connected", t)))
        transport.add_event_handler("on_disconnected", lambda t, ws: events.append(("disconnected", t)))
        bot = Bot(echo=True)
        task = PipelineTask(
            Pipeline([transport.input(), bot, transport.output()]),
            params=PipelineParams(audio_in_sample_rate=16000, audio_out_sample_rate=24000),
        )
        await asyncio.wait_for(task.run(), timeout=10)
    frames = [f for _, f in bot.inputs]
    assert {(f.sample_rate, f.num_frames) for f in frames} == {(16000, 320)}
    assert b"".join(f.audio for f in frames) == pcm
    assert all(len(message) == 640 for message in received)  # 20 ms at the serializer's 16 kHz
    assert b"".join(received) == pcm
    assert [name for name, _ in events] == ["connected", "disconnected"]
    assert events[0][1] is transport
    assert transport.input().malformed_messages == 1
    assert bot.of(EndFrame, FrameDirection.DOWNSTREAM)
    await assert_no_stray_tasks()


async def test_a_failed_connection_is_a_fatal_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe is closed
    transport = WebsocketClientTransport(
        f"ws://127.0.0.1:{port}", WebsocketParams(serializer=RawPCMSerializer(), connect_timeout_s=2)
    )
    task = PipelineTask(Pipeline([transport.input(), transport.output()]))
    errors: list[Any] = []
    task.add_event_handler("on_pipeline_error", lambda t, frame: errors.append(frame))
    await asyncio.wait_for(task.run(), timeout=5)
    assert errors and errors[0].fatal
    assert isinstance(errors[0].exception, ConnectionFailedError)
    assert errors[0].exception.retryable
    await assert_no_stray_tasks()


async def test_end_frame_closes_the_connection_after_playout() -> None:
    closed = asyncio.Event()
    got: list[bytes] = []

    async def handler(connection: ServerConnection) -> None:
        try:
            async for message in connection:
                assert isinstance(message, bytes)
                got.append(message)
        finally:
            closed.set()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        transport = WebsocketClientTransport(
            f"ws://127.0.0.1:{port}", WebsocketParams(serializer=RawPCMSerializer(8000))
        )
        bot = Bot(answer_ms=300)
        task = PipelineTask(Pipeline([transport.input(), bot, transport.output()]))
        runner = asyncio.create_task(task.run())
        async with asyncio.timeout(5):
            while transport.link_state is not LinkState.CONNECTED:
                await asyncio.sleep(0.005)
        await transport.input().push_frame(InputDTMFFrame(digit="1"))
        await task.stop_when_done()
        await asyncio.wait_for(runner, timeout=5)
        await asyncio.wait_for(closed.wait(), timeout=5)
    assert sum(map(len, got)) == 2 * 8 * 300  # the whole 300 ms answer, at 8 kHz
    await assert_no_stray_tasks()


async def _refuse(connection: Any, request: Any) -> Any:
    return connection.respond(403, "no\n")


@pytest.mark.parametrize("case", ["refused_handshake", "bad_uri", "timeout"])
async def test_connection_failures_map_to_connection_failed(case: str) -> None:
    """Each way connecting fails reaches the task as a fatal ConnectionFailedError, not a library error."""
    async with contextlib.AsyncExitStack() as stack:
        if case == "refused_handshake":
            server = await stack.enter_async_context(
                serve(lambda c: asyncio.sleep(0), "127.0.0.1", 0, process_request=_refuse)
            )
            uri = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        elif case == "bad_uri":
            uri = "not a websocket uri"
        else:  # a listener that never answers the handshake
            listener = socket.socket()
            stack.callback(listener.close)
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            uri = f"ws://127.0.0.1:{listener.getsockname()[1]}"
        transport = WebsocketClientTransport(
            uri, WebsocketParams(serializer=RawPCMSerializer(), connect_timeout_s=0.3)
        )
        task = PipelineTask(Pipeline([transport.input(), transport.output()]))
        errors: list[Any] = []
        task.add_event_handler("on_pipeline_error", lambda t, frame: errors.append(frame))
        await asyncio.wait_for(task.run(), timeout=5)
    (error,) = errors
    assert error.fatal and isinstance(error.exception, ConnectionFailedError)
    assert error.exception.__cause__ is not None
    await assert_no_stray_tasks()


class _SlowStart(Bot):
    """Takes its time to start, and notes whether it had started when each input frame came."""

    def __init__(self) -> None:
        super().__init__()
        self.started_when_fed: list[bool] = []
        self.ready = False

    async def start(self, frame: Any) -> None:
        await asyncio.sleep(0.3)
        self.ready = True

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        if isinstance(frame, InputAudioRawFrame):
            self.started_when_fed.append(self.ready)
        await super().process_frame(frame, direction)


async def test_no_message_reaches_a_processor_before_it_started() -> None:
    async def handler(connection: ServerConnection) -> None:
        await connection.send(tone(20, 16000))  # at once, while the pipeline may still be starting
        await connection.close()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        transport = WebsocketClientTransport(
            f"ws://127.0.0.1:{port}", WebsocketParams(serializer=RawPCMSerializer(16000))
        )
        slow = _SlowStart()
        task = PipelineTask(Pipeline([transport.input(), slow, transport.output()]))
        await asyncio.wait_for(task.run(), timeout=5)
    assert slow.started_when_fed == [True]

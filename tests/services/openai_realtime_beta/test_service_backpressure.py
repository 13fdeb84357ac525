"""A server faster than real time against a bounded output: the service keeps reading, and holds little.

Every output's lane is bounded by default, so the frames of an answer that arrives faster than it plays
wait in the service's own queue, which a task of its own pushes downstream. The event reader is never
held up by playout: a ``speech_started`` behind seconds of unplayed audio is handled at once. The queue
is bounded too: past it the reader waits, the client's own backlog is bounded, and the rest of the
answer waits in the socket.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from voxpipe.frames.frames import Frame, PlaybackPositionFrame, StartInterruptionFrame
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineTask
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor
from voxpipe.services._realtime_service.service import MAX_PENDING_SERVER_EVENTS
from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService
from voxpipe.testing import ANY, FakeRealtimeServer, expect, send, wait
from voxpipe.transports.file import WavFileOutputParams, WavFileOutputTransport

from .rig import KEY, audio_turn, rig


def slow_output(path: Path) -> WavFileOutputTransport:
    """An output that plays in real time, with a small buffer and the default bounded lane."""
    return WavFileOutputTransport(path, WavFileOutputParams(max_buffer_ms=300))


class Snapshot(FrameProcessor):
    """Before the output: notes how much audio the output held when the interruption came."""

    def __init__(self, output: WavFileOutputTransport) -> None:
        super().__init__()
        self.output = output
        self.buffered_at_interruption: int | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, StartInterruptionFrame) and self.buffered_at_interruption is None:
            self.buffered_at_interruption = self.output.buffered_ms
        await self.push_frame(frame, direction)


async def test_speech_started_behind_unplayed_audio_is_handled_at_once(tmp_path: Path) -> None:
    output = slow_output(tmp_path / "answer.wav")
    script = [
        expect("session.update"),
        *map(send, audio_turn(item="item_bot", chunks=100)[:-2]),  # 10 s of audio at once, answer going on
        wait(0.5),
        send({"type": "input_audio_buffer.speech_started", "audio_start_ms": 3000, "item_id": "item_u2"}),
        expect("conversation.item.truncate", item_id="item_bot", content_index=0, audio_end_ms=ANY),
    ]
    snapshot = Snapshot(output)
    async with rig(script, extra=[snapshot, output]) as r:
        await r.server.assert_done()
    # The output was full and seconds of the answer still waited in the service's queue: the reader had
    # read past them (it never waited on playout), and the interruption dropped them.
    assert snapshot.buffered_at_interruption is not None and snapshot.buffered_at_interruption > 0
    # (the lanes between hold 32 + 8 frames of 100 ms and the buffer 0.3 s: 4.3 s of the 10 s)
    assert r.service._downstream.dropped_audio_ms >= 3000
    (truncate,) = r.server.received("conversation.item.truncate")
    (report,) = r.up.of(PlaybackPositionFrame)
    assert truncate["audio_end_ms"] == report.position_ms  # cut where the listener was
    assert 200 <= truncate["audio_end_ms"] <= 1500  # about the 0.5 s that played, not the 10 s received
    assert output.total_played_ms < 1500  # the queued rest was dropped, never played


async def test_a_long_answer_faster_than_real_time_is_held_within_the_bounds(tmp_path: Path) -> None:
    output = slow_output(tmp_path / "answer.wav")
    chunks = 600  # a minute of audio in 100 ms deltas, sent at once (about 4 MB of JSON)
    server = FakeRealtimeServer(
        [expect("session.update"), *map(send, audio_turn(item="item_bot", chunks=chunks))],
        auto_session_updated=True,
        ignore=("input_audio_buffer.append",),
    )
    await server.start()
    service = OpenAIRealtimeBetaLLMService(api_key=KEY, base_url=server.url, max_queued_audio_ms=1000)
    task = PipelineTask(Pipeline([service, output]))
    runner = asyncio.create_task(task.run())
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        most_pending = 0
        while loop.time() - started < 2.0:
            if service._client is not None:
                most_pending = max(most_pending, service._client.pending_events)
            await asyncio.sleep(0.01)
        read_ms = service._answer.received_ms.get("item_bot", 0.0)
        played_ms = output.total_played_ms
    finally:
        await task.cancel()
        await runner
        await server.stop()
    assert service._downstream.most_audio_ms <= 1000 + 100  # the bound, plus the delta that crossed it
    assert most_pending <= MAX_PENDING_SERVER_EVENTS + 2  # plus the client's notices
    # Read: what played, plus the buffer, the output's lane and the service's queue; not the minute sent.
    assert played_ms > 1000 and read_ms < played_ms + 300 + 8 * 100 + 1000 + 500

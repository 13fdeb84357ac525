"""When the Whisper stream starts its pass at a pause: counted from the last loud sample, in any chunking.

The pass at a pause is the transcript the session's speculation and the end of the turn wait for, so each
chunk it starts late is 20-40 ms added to every answer. No model runs here: the stream's engine is a
stand-in that records what was submitted and never finishes a pass.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import numpy as np
import pytest

from voxpipe.server.engines.base import TranscriptionOptions
from voxpipe.server.engines.local._priority_worker import Priority
from voxpipe.server.engines.local.stt import _WhisperStream

RATE = 16_000


class RecordingEngine:
    """Takes passes and keeps them pending: the stream's schedule is all there is to see."""

    def __init__(self) -> None:
        self.passes: list[tuple[int, Priority]] = []

    def submit(
        self, audio: np.ndarray, prompt: str | None, priority: Priority = Priority.URGENT
    ) -> Future[Any]:
        self.passes.append((audio.size, priority))
        return Future()

    def withdraw(self, future: Future[Any]) -> bool:
        return False


def ms(n: int) -> int:
    return n * RATE // 1000


def chunk(loud_ms: int, quiet_ms: int) -> bytes:
    """A chunk of ``loud_ms`` of a loud tone, then ``quiet_ms`` of digital silence (16 kHz PCM16)."""
    t = np.arange(ms(loud_ms)) / RATE
    tone = (0.3 * 32767 * np.sin(2 * np.pi * 220 * t)).astype("<i2")
    return np.concatenate([tone, np.zeros(ms(quiet_ms), dtype="<i2")]).tobytes()


def pause_passes(engine: RecordingEngine) -> list[int]:
    return [size for size, priority in engine.passes if priority is Priority.SOON]


def stream(engine: RecordingEngine) -> _WhisperStream:
    return _WhisperStream(engine, TranscriptionOptions(), step_ms=1000, pause_ms=100)  # type: ignore[arg-type]


@pytest.mark.parametrize("chunk_ms", [40, 30])
def test_the_silence_at_the_end_of_the_last_loud_chunk_counts_toward_the_pause(chunk_ms: int) -> None:
    engine = RecordingEngine()
    whisper = stream(engine)
    fed_ms = 0
    for _ in range(300 // chunk_ms):
        whisper.feed(chunk(chunk_ms, 0))
        fed_ms += chunk_ms
    whisper.feed(chunk(10, chunk_ms - 10))  # the speech ends 10 ms into this chunk
    fed_ms += chunk_ms
    quiet = chunk_ms - 10
    while quiet + chunk_ms < 100:
        whisper.feed(chunk(0, chunk_ms))
        fed_ms += chunk_ms
        quiet += chunk_ms
        assert pause_passes(engine) == [], f"a pass after only {quiet} ms of silence"
    whisper.feed(chunk(0, chunk_ms))  # now 100 ms or more after the last loud sample
    fed_ms += chunk_ms
    # one chunk sooner than whole quiet chunks would count: 40 ms chunks start it at 110 ms, not 120
    assert pause_passes(engine) == [ms(fed_ms)]


def test_a_pause_is_not_heard_while_the_chunks_stay_loud_to_their_end() -> None:
    engine = RecordingEngine()
    whisper = stream(engine)
    for _ in range(10):
        whisper.feed(chunk(5, 30))
        whisper.feed(chunk(40, 0))  # 30 ms gaps between sounds: never a pause
    assert pause_passes(engine) == []


def test_a_pause_the_last_pass_heard_whole_starts_no_second_pass() -> None:
    engine = RecordingEngine()
    whisper = stream(engine)
    whisper.feed(chunk(200, 0))
    for _ in range(5):
        whisper.feed(chunk(0, 40))
    assert len(pause_passes(engine)) == 1  # the pending pass covers the speech: silence adds none

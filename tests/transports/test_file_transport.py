"""WAV file transports: pacing, resampling, silence tail, playback position and interruption."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from voxpipe.audio import WavAudio, read_wav, write_wav
from voxpipe.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    PlaybackPositionFrame,
    StartInterruptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor
from voxpipe.transports.file import (
    WavFileInputParams,
    WavFileInputTransport,
    WavFileOutputParams,
    WavFileOutputTransport,
)

SPEECH_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "speech"


def tone(ms: int, rate: int, freq: float = 440.0, channels: int = 1) -> bytes:
    t = np.arange(int(rate * ms / 1000)) / rate
    mono = (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    return np.repeat(mono, channels).tobytes()


class Collect(FrameProcessor):
    def __init__(self) -> None:
        super().__init__()
        self.frames: list[tuple[Frame, FrameDirection]] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        self.frames.append((frame, direction))
        await self.push_frame(frame, direction)

    def of(self, kind: type, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> list:
        return [f for f, d in self.frames if isinstance(f, kind) and d is direction]


async def test_input_plays_a_file_resampled_with_a_silence_tail(tmp_path: Path) -> None:
    path = tmp_path / "in.wav"
    write_wav(path, tone(500, 48000, channels=2), 48000, channels=2)
    source = WavFileInputTransport(
        path, WavFileInputParams(realtime=False, silence_tail_ms=200, lead_in_ms=100, end_when_done=True)
    )
    sink = Collect()
    finished: list[bool] = []
    speech_done_at: list[int] = []
    source.add_event_handler("on_audio_finished", lambda t: finished.append(True))
    source.add_event_handler("on_speech_finished", lambda t: speech_done_at.append(t.frames_sent))
    task = PipelineTask(Pipeline([source, sink]), params=PipelineParams(audio_in_sample_rate=16000))
    await asyncio.wait_for(task.run(), timeout=10)
    frames = sink.of(InputAudioRawFrame)
    assert {(f.sample_rate, f.num_channels) for f in frames} == {(16000, 1)}
    assert all(f.num_frames == 320 for f in frames)  # 20 ms each
    assert len(frames) == (100 + 500 + 200) // 20
    pcm = np.frombuffer(b"".join(f.audio for f in frames), dtype="<i2")
    assert np.abs(pcm[: 16 * 90]).max() == 0  # lead-in is silent
    assert np.abs(pcm[16 * 150 : 16 * 550]).max() > 5000  # the tone
    assert np.abs(pcm[-16 * 180 :]).max() < 50  # the tail is silent
    assert finished == [True]
    assert speech_done_at == [(100 + 500) // 20]  # right after the frame holding the file's last sample
    assert isinstance(sink.frames[-1][0], EndFrame)


async def test_input_in_realtime_takes_at_least_the_audio_duration(tmp_path: Path) -> None:
    path = tmp_path / "in.wav"
    write_wav(path, tone(300, 16000), 16000)
    source = WavFileInputTransport(path, WavFileInputParams(silence_tail_ms=100, end_when_done=True))
    sink = Collect()
    started = time.monotonic()
    await asyncio.wait_for(PipelineTask(Pipeline([source, sink])).run(), timeout=10)
    assert time.monotonic() - started >= 0.38
    assert len(sink.of(InputAudioRawFrame)) == 20


def test_input_rejects_bad_chunks_and_files(tmp_path: Path) -> None:
    audio = WavAudio(pcm=b"\0" * 320, sample_rate=16000, channels=1)
    with pytest.raises(ValueError, match="multiple of 10"):
        WavFileInputTransport(audio, WavFileInputParams(chunk_ms=15))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav file at all")
    with pytest.raises(ValueError, match="WAV"):
        WavFileInputTransport(bad)


async def test_input_reads_the_speech_fixtures() -> None:
    paths = sorted(SPEECH_DIR.glob("*.wav"))
    assert paths, SPEECH_DIR
    for path in paths:
        source = WavFileInputTransport(
            path, WavFileInputParams(realtime=False, silence_tail_ms=0, end_when_done=True)
        )
        sink = Collect()
        await asyncio.wait_for(PipelineTask(Pipeline([source, sink])).run(), timeout=10)
        duration = sum(f.duration_ms for f in sink.of(InputAudioRawFrame))
        assert abs(duration - read_wav(path).duration_ms) <= 20, path.name


async def test_output_writes_resampled_audio_and_reports_speaking(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    output = WavFileOutputTransport(path, WavFileOutputParams(realtime=False))
    before = Collect()
    task = PipelineTask(Pipeline([before, output]), params=PipelineParams(audio_out_sample_rate=24000))
    await task.queue_frames(
        [
            TTSStartedFrame(),
            TTSAudioRawFrame(audio=tone(200, 24000), sample_rate=24000),
            TTSAudioRawFrame(audio=tone(200, 16000), sample_rate=16000),
            TTSAudioRawFrame(audio=tone(100, 8000, channels=2), sample_rate=8000, num_channels=2),
            TTSStoppedFrame(),
            EndFrame(),
        ]
    )
    await asyncio.wait_for(task.run(), timeout=10)
    written = read_wav(path)
    assert (written.sample_rate, written.channels) == (24000, 1)
    assert abs(written.duration_ms - 500) <= 2
    assert len(before.of(BotStartedSpeakingFrame, FrameDirection.UPSTREAM)) == 1
    assert len(before.of(BotStoppedSpeakingFrame, FrameDirection.UPSTREAM)) == 1


async def test_output_interruption_reports_the_played_position(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    output = WavFileOutputTransport(path)
    before = Collect()
    task = PipelineTask(Pipeline([before, output]))
    runner = asyncio.create_task(task.run())
    await task.queue_frames([TTSStartedFrame(), TTSAudioRawFrame(audio=tone(2000, 24000), sample_rate=24000)])
    while output.total_played_ms < 300:
        await asyncio.sleep(0.005)
    await task.queue_frame(StartInterruptionFrame())
    while not before.of(PlaybackPositionFrame, FrameDirection.UPSTREAM):
        await asyncio.sleep(0.005)
    position = before.of(PlaybackPositionFrame, FrameDirection.UPSTREAM)[0]
    assert position.interrupted
    assert 300 <= position.position_ms < 2000
    assert output.position_ms == position.position_ms  # one reading of the clock, not two
    # A new response starts counting from zero.
    await task.queue_frames([TTSStartedFrame(), TTSAudioRawFrame(audio=tone(100, 24000), sample_rate=24000)])
    await task.queue_frames([TTSStoppedFrame(), EndFrame()])
    await asyncio.wait_for(runner, timeout=10)
    assert output.position_ms == 100
    written = read_wav(path)
    # Only what was played reached the file: the interrupted part (+ at most one chunk) and the new answer.
    assert position.position_ms + 100 <= written.duration_ms <= position.position_ms + 100 + 25
    assert len(before.of(BotStoppedSpeakingFrame, FrameDirection.UPSTREAM)) == 2

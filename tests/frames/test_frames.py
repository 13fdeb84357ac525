"""Frames: kinds, validation of audio, names, and the re-export module."""

from __future__ import annotations

import pytest

import voxpipe.frames.frames as frames_module
from voxpipe.errors import FrameValidationError, VoxpipeUsageError
from voxpipe.frames.frames import (
    CancelFrame,
    ControlFrame,
    DataFrame,
    EndFrame,
    ErrorFrame,
    FatalErrorFrame,
    Frame,
    FunctionCallResultFrame,
    InputAudioRawFrame,
    LLMTextFrame,
    OutputAudioRawFrame,
    StartFrame,
    StartInterruptionFrame,
    SystemFrame,
    TextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    UninterruptibleFrame,
)

SPEC_FRAMES = [
    "StartFrame", "EndFrame", "CancelFrame", "ErrorFrame", "InputAudioRawFrame", "OutputAudioRawFrame",
    "TTSAudioRawFrame", "TTSStartedFrame", "TTSStoppedFrame", "TextFrame", "LLMTextFrame",
    "TranscriptionFrame", "InterimTranscriptionFrame", "StartInterruptionFrame", "StopInterruptionFrame",
    "UserStartedSpeakingFrame", "UserStoppedSpeakingFrame", "BotStartedSpeakingFrame",
    "BotStoppedSpeakingFrame", "LLMFullResponseStartFrame", "LLMFullResponseEndFrame",
    "LLMMessagesAppendFrame", "LLMUpdateSettingsFrame", "LLMSetToolsFrame", "FunctionCallInProgressFrame",
    "FunctionCallResultFrame", "MetricsFrame",
]  # fmt: skip


@pytest.mark.parametrize("name", SPEC_FRAMES)
def test_every_frame_the_spec_names_is_exported(name: str) -> None:
    frame_type = getattr(frames_module, name)
    assert issubclass(frame_type, Frame)
    assert name in frames_module.__all__


def test_frame_kinds_follow_the_design() -> None:
    assert issubclass(InputAudioRawFrame, SystemFrame)
    assert issubclass(StartInterruptionFrame, SystemFrame)
    assert issubclass(CancelFrame, SystemFrame)
    assert issubclass(StartFrame, SystemFrame)
    assert issubclass(TextFrame, DataFrame)
    assert issubclass(OutputAudioRawFrame, DataFrame)
    assert issubclass(EndFrame, ControlFrame)
    assert issubclass(EndFrame, UninterruptibleFrame)
    assert issubclass(FunctionCallResultFrame, UninterruptibleFrame)


def test_frame_hierarchy_is_shallow() -> None:
    """At most two levels under SystemFrame/DataFrame/ControlFrame (STYLE.md practice 2)."""
    kinds = {SystemFrame, DataFrame, ControlFrame}
    for name in frames_module.__all__:
        frame_type = getattr(frames_module, name)
        if not isinstance(frame_type, type) or not issubclass(frame_type, Frame) or frame_type in kinds:
            continue
        chain = [k for k in frame_type.__mro__ if issubclass(k, Frame) and k is not Frame]
        depth = len([k for k in chain if k not in kinds])
        assert depth <= 2, f"{name} is {depth} levels deep: {chain}"


def test_ids_are_unique_and_names_readable() -> None:
    a, b = TextFrame("a"), TextFrame("b")
    assert a.id != b.id
    assert a.name == f"TextFrame#{a.id}"


def test_text_frames_take_text_positionally_or_by_keyword() -> None:
    assert TextFrame("hi").text == "hi"
    assert LLMTextFrame(text="hi").text == "hi"
    transcript = TranscriptionFrame("hello", user_id="u1", timestamp="t")
    assert (transcript.text, transcript.user_id) == ("hello", "u1")


def test_audio_frames_know_their_duration() -> None:
    frame = InputAudioRawFrame(audio=b"\0" * 1920, sample_rate=48000, num_channels=2)
    assert frame.num_frames == 480
    assert frame.duration_ms == 10.0
    tts = TTSAudioRawFrame(audio=b"\0" * 480, sample_rate=24000)
    assert tts.duration_ms == 10.0


@pytest.mark.parametrize(
    ("audio", "rate", "channels", "message"),
    [
        (b"\0" * 3, 16000, 1, "not a whole number"),
        (b"\0" * 6, 16000, 2, "multiple of 4 bytes"),
        (b"\0" * 4, 0, 1, "sample_rate must be a positive int"),
        (b"\0" * 4, -8000, 1, "sample_rate must be a positive int"),
        (b"\0" * 4, 16000, 0, "num_channels must be a positive int"),
        ("text", 16000, 1, "audio must be bytes"),
    ],
)
def test_audio_frames_reject_bad_data(audio: bytes, rate: int, channels: int, message: str) -> None:
    for frame_type in (InputAudioRawFrame, OutputAudioRawFrame, TTSAudioRawFrame):
        with pytest.raises(FrameValidationError, match=message) as info:
            frame_type(audio=audio, sample_rate=rate, num_channels=channels)
        assert isinstance(info.value, VoxpipeUsageError)
        assert isinstance(info.value, ValueError)


def test_error_frames() -> None:
    assert ErrorFrame(error="x").fatal is False
    assert FatalErrorFrame(error="x").fatal is True
    assert "boom" in str(ErrorFrame(error="boom"))


def test_start_frame_carries_rates_and_settings() -> None:
    start = StartFrame(audio_in_sample_rate=8000, audio_out_sample_rate=16000, allow_interruptions=False)
    assert (start.audio_in_sample_rate, start.audio_out_sample_rate, start.allow_interruptions) == (
        8000,
        16000,
        False,
    )

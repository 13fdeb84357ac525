"""Raw PCM16 binary messages."""

from __future__ import annotations

import numpy as np
import pytest

from voxpipe.audio import resample
from voxpipe.frames.frames import InputAudioRawFrame, OutputAudioRawFrame, StartInterruptionFrame
from voxpipe.serializers import FrameSerializer, MalformedMessageError, RawPCMSerializer


def tone(ms: int, rate: int) -> bytes:
    t = np.arange(int(rate * ms / 1000)) / rate
    return (8000 * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes()


def test_binary_messages_are_input_audio_at_the_declared_rate() -> None:
    serializer = RawPCMSerializer(16000)
    assert isinstance(serializer, FrameSerializer)
    frame = serializer.deserialize(tone(20, 16000))
    assert isinstance(frame, InputAudioRawFrame)
    assert (frame.sample_rate, frame.num_frames) == (16000, 320)
    assert serializer.deserialize(b"") is None


def test_output_is_resampled_to_the_declared_rate() -> None:
    serializer = RawPCMSerializer(16000)
    assert serializer.output_sample_rate == 16000
    pcm = tone(20, 16000)
    assert serializer.serialize(OutputAudioRawFrame(audio=pcm, sample_rate=16000)) == pcm
    pcm24 = tone(400, 24000)
    out = b""
    for offset in range(0, len(pcm24), 960):
        out += (
            serializer.serialize(OutputAudioRawFrame(audio=pcm24[offset : offset + 960], sample_rate=24000))
            or b""
        )
    assert out == resample(pcm24, 24000, 16000)[: len(out)]
    assert serializer.serialize(StartInterruptionFrame()) is None


@pytest.mark.parametrize(("data", "code"), [("text", "unexpected_type"), (b"\x00\x01\x02", "bad_audio")])
def test_malformed(data: str | bytes, code: str) -> None:
    with pytest.raises(MalformedMessageError) as info:
        RawPCMSerializer().deserialize(data)
    assert info.value.code == code


def test_bad_rate() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        RawPCMSerializer(0)

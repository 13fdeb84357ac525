"""Twilio Media Streams messages to frames and back, with real μ-law bit patterns from voxpipe.audio."""

from __future__ import annotations

import base64
import json
import logging

import numpy as np
import pytest

from voxpipe.audio import resample, ulaw_decode, ulaw_encode
from voxpipe.frames.frames import (
    EndTaskFrame,
    InputAudioRawFrame,
    OutputAudioRawFrame,
    StartFrame,
    StartInterruptionFrame,
    TextFrame,
)
from voxpipe.serializers import (
    InputDTMFFrame,
    MalformedMessageError,
    MarkReachedFrame,
    OutputMarkFrame,
    TwilioFrameSerializer,
)

SID = "MZ00000000000000000000000000000001"


def tone(ms: int, rate: int, freq: float = 440.0) -> bytes:
    t = np.arange(int(rate * ms / 1000)) / rate
    return (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def start_message(sid: str = SID, **media_format: object) -> str:
    fmt = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1, **media_format}
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "start": {
                "accountSid": "AC1",
                "streamSid": sid,
                "callSid": "CA1",
                "tracks": ["inbound"],
                "mediaFormat": fmt,
                "customParameters": {"caller": "test"},
            },
            "streamSid": sid,
        }
    )


def media_message(codes: bytes, track: str = "inbound") -> str:
    payload = base64.b64encode(codes).decode()
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": "2",
            "media": {"track": track, "chunk": "1", "timestamp": "5", "payload": payload},
            "streamSid": SID,
        }
    )


def started() -> TwilioFrameSerializer:
    serializer = TwilioFrameSerializer()
    assert serializer.deserialize(json.dumps({"event": "connected", "protocol": "Call"})) is None
    assert serializer.deserialize(start_message()) is None
    return serializer


def test_start_teaches_the_stream_and_call() -> None:
    serializer = started()
    assert serializer.stream_sid == SID
    assert serializer.call_sid == "CA1"
    assert serializer.custom_parameters == {"caller": "test"}


def test_media_decodes_the_exact_ulaw_codes_to_pcm16_8k() -> None:
    serializer = started()
    codes = bytes(range(256))[:160]  # every bit pattern of the first 160 codes
    frame = serializer.deserialize(media_message(codes))
    assert isinstance(frame, InputAudioRawFrame)
    assert (frame.sample_rate, frame.num_channels) == (8000, 1)
    assert frame.audio == ulaw_decode(codes)
    assert frame.duration_ms == 20


def test_media_is_resampled_to_the_pipeline_rate_when_asked() -> None:
    serializer = TwilioFrameSerializer(input_sample_rate="pipeline")
    serializer.setup(StartFrame(audio_in_sample_rate=16000))
    serializer.deserialize(start_message())
    codes = ulaw_encode(tone(20, 8000))
    out = b""
    for _ in range(10):
        frame = serializer.deserialize(media_message(codes))
        if frame is not None:
            assert isinstance(frame, InputAudioRawFrame)
            assert frame.sample_rate == 16000
            out += frame.audio
    assert 0 < len(out) <= 10 * 640  # the resampler holds back a little, never adds
    assert serializer.input_sample_rate == 16000


def test_outbound_audio_is_resampled_to_8k_ulaw_media() -> None:
    serializer = started()
    pcm24 = tone(200, 24000)
    payloads = b""
    for offset in range(0, len(pcm24), 960):  # 20 ms frames at 24 kHz
        message = serializer.serialize(
            OutputAudioRawFrame(audio=pcm24[offset : offset + 960], sample_rate=24000)
        )
        if message is None:
            continue
        body = json.loads(message)
        assert body["event"] == "media" and body["streamSid"] == SID
        assert set(body["media"]) == {"payload"}
        payloads += base64.b64decode(body["media"]["payload"])
    # Streaming through one resampler (state kept) gives what resampling the whole signal gives.
    expected = ulaw_encode(resample(pcm24, 24000, 8000))
    assert payloads == expected[: len(payloads)]
    assert len(payloads) >= 1200


def test_outbound_8k_audio_is_encoded_without_delay() -> None:
    serializer = started()
    pcm = tone(20, 8000)
    body = json.loads(serializer.serialize(OutputAudioRawFrame(audio=pcm, sample_rate=8000)) or "")
    assert base64.b64decode(body["media"]["payload"]) == ulaw_encode(pcm)


def test_interruption_becomes_clear_and_marks_go_both_ways() -> None:
    serializer = started()
    assert json.loads(serializer.serialize(StartInterruptionFrame()) or "") == {
        "event": "clear",
        "streamSid": SID,
    }
    assert json.loads(serializer.serialize(OutputMarkFrame(mark="m1")) or "") == {
        "event": "mark",
        "streamSid": SID,
        "mark": {"name": "m1"},
    }
    back = serializer.deserialize(json.dumps({"event": "mark", "streamSid": SID, "mark": {"name": "m1"}}))
    assert back == MarkReachedFrame(mark="m1")
    assert serializer.serialize(TextFrame("not on the wire")) is None


def test_dtmf_and_stop() -> None:
    serializer = started()
    frame = serializer.deserialize(
        json.dumps({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": "#"}})
    )
    assert frame == InputDTMFFrame(digit="#")
    assert isinstance(serializer.deserialize(json.dumps({"event": "stop", "stop": {}})), EndTaskFrame)


def test_nothing_is_sent_before_the_stream_is_known(caplog: pytest.LogCaptureFixture) -> None:
    serializer = TwilioFrameSerializer()
    with caplog.at_level(logging.WARNING):
        assert serializer.serialize(StartInterruptionFrame()) is None
        assert serializer.serialize(StartInterruptionFrame()) is None
    assert len([r for r in caplog.records if "no stream sid" in r.getMessage()]) == 1
    assert (
        json.loads(TwilioFrameSerializer("MZx").serialize(StartInterruptionFrame()) or "")["streamSid"]
        == "MZx"
    )


def test_reset_forgets_the_previous_call() -> None:
    serializer = TwilioFrameSerializer(stream_sid="MZgiven")
    serializer.deserialize(start_message())
    assert serializer.stream_sid == SID
    serializer.reset()
    assert serializer.stream_sid == "MZgiven" and serializer.custom_parameters == {}


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "unexpected_type"),
        (json.dumps({"no": "event"}), "missing_field"),
        (json.dumps({"event": 5}), "bad_field"),
        (json.dumps({"event": "media"}), "missing_field"),
        (json.dumps({"event": "media", "media": "x"}), "bad_field"),
        (json.dumps({"event": "media", "media": {"payload": "@@not base64@@"}}), "bad_base64"),
        (json.dumps({"event": "media", "media": {"payload": "abc"}}), "bad_base64"),  # bad padding
        (json.dumps({"event": "dtmf", "dtmf": {"digit": "x"}}), "bad_field"),
        (json.dumps({"event": "mark", "mark": {}}), "missing_field"),
        (start_message(encoding="audio/l16"), "unsupported_format"),
        (start_message(sampleRate=16000), "unsupported_format"),
        (b"\xff\xfe", "bad_json"),
    ],
)
def test_malformed_messages_raise_a_typed_recoverable_error(message: str | bytes, code: str) -> None:
    with pytest.raises(MalformedMessageError) as info:
        TwilioFrameSerializer().deserialize(message)
    assert info.value.code == code
    assert info.value.recoverable
    assert "not base64@@" not in str(info.value)  # the body is never quoted


def test_unknown_events_and_other_tracks_are_ignored(caplog: pytest.LogCaptureFixture) -> None:
    serializer = started()
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            assert serializer.deserialize(json.dumps({"event": "newfangled", "x": 1})) is None
    assert len([r for r in caplog.records if "newfangled" in r.getMessage()]) == 1
    assert serializer.deserialize(media_message(b"\xff" * 160, track="outbound")) is None
    assert serializer.deserialize(media_message(b"")) is None


def test_bad_input_rate_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="input_sample_rate"):
        TwilioFrameSerializer(input_sample_rate=0)

"""The dialect: the one place that knows how beta and GA differ (names, nesting, audio formats)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from voxpipe.realtime import SessionProperties, TurnDetection, beta, ga
from voxpipe.realtime.dialect import (
    AUDIO_ENCODINGS,
    BETA,
    GA,
    EventKind,
    audio_encoding,
    dialect,
    flatten_session,
    nest_session,
)

GA_ONLY = {EventKind.ITEM_DONE, EventKind.BUFFER_TIMEOUT}


@pytest.mark.parametrize("shape", [BETA, GA], ids=lambda d: d.name)
def test_every_event_class_maps_back_to_its_kind(shape) -> None:
    for kind, event_class in shape.events.items():
        wire_type = event_class.model_fields["type"].default
        assert shape.kind_of(wire_type) is kind


@pytest.mark.parametrize("shape", [BETA, GA], ids=lambda d: d.name)
def test_every_event_class_is_the_one_the_parser_reads_in_that_shape(shape) -> None:
    models = ga if shape is GA else beta
    tables = {**models.SERVER_EVENT_TYPES, **models.CLIENT_EVENT_TYPES}
    for event_class in shape.events.values():
        assert tables[event_class.model_fields["type"].default] is event_class


def test_both_dialects_name_the_same_kinds_but_the_ga_only_ones() -> None:
    assert set(GA.events) - set(BETA.events) == GA_ONLY
    assert set(BETA.events) <= set(GA.events)
    assert set(EventKind) == set(GA.events)


def test_renamed_streams_and_item_announcements() -> None:
    assert BETA.kind_of("response.audio.delta") is EventKind.AUDIO_DELTA
    assert GA.kind_of("response.output_audio.delta") is EventKind.AUDIO_DELTA
    assert GA.kind_of("response.audio.delta") is None
    assert GA.kind_of("conversation.item.created") is EventKind.ITEM_ADDED  # older GA servers
    item = GA.item(id="i1", type="message", role="assistant", status="completed", content=[])
    assert [e.type for e in GA.item_announcements(item, None, final=True)] == [
        "conversation.item.added",
        "conversation.item.done",
    ]
    beta_item = BETA.item(id="i1", type="message", role="assistant", status="completed", content=[])
    assert beta_item.to_dict()["object"] == "realtime.item"
    assert [e.type for e in BETA.item_announcements(beta_item, None, final=True)] == [
        "conversation.item.created"
    ]
    assert GA.assistant_part("text") == "output_text"
    assert BETA.assistant_part("audio") == "audio"
    assert GA.assistant_part("input_audio") == "input_audio"


def test_audio_encodings_under_both_names() -> None:
    assert audio_encoding(None) is AUDIO_ENCODINGS["pcm16"]
    assert audio_encoding("pcm16").ga_format() == {"type": "audio/pcm", "rate": 24000}
    assert audio_encoding("g711_ulaw").ga_format() == {"type": "audio/pcmu"}
    assert [e.sample_rate for e in AUDIO_ENCODINGS.values()] == [24000, 8000, 8000]


def test_flat_settings_nest_for_ga_and_read_back() -> None:
    flat = SessionProperties(
        modalities=["audio", "text"],
        instructions="Hi",
        voice="alloy",
        speed=1.1,
        input_audio_format="g711_ulaw",
        output_audio_format="pcm16",
        turn_detection=TurnDetection(silence_duration_ms=500),
        max_response_output_tokens=200,
        tool_choice="auto",
        temperature=0.7,
    )
    nested = nest_session(flat)
    assert isinstance(nested, ga.SessionProperties)
    wire = nested.to_dict()
    assert wire["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert wire["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "alloy",
        "speed": 1.1,
    }
    assert "temperature" not in wire
    back = flatten_session(ga.SessionProperties.model_validate(wire))
    expected = flat.model_dump(exclude_unset=True)
    expected.pop("temperature")
    turn = back.pop("turn_detection")
    assert (turn.type, turn.silence_duration_ms) == ("server_vad", 500)
    expected.pop("turn_detection")
    assert back == expected


def test_session_update_and_params_per_dialect() -> None:
    flat = SessionProperties(voice="alloy")
    assert isinstance(BETA.session_update(flat), beta.SessionUpdateEvent)
    assert GA.session_update(flat).to_dict() == {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"output": {"voice": "alloy"}}},
    }
    assert BETA.session_param("voice") == "session.voice"
    assert GA.session_param("voice") == "session.audio.output.voice"
    assert GA.session_param("max_response_output_tokens", "response") == "response.max_output_tokens"
    assert GA.session_param("instructions") == "session.instructions"


def test_response_settings_and_usage_per_dialect() -> None:
    pcm = audio_encoding("pcm16")
    assert BETA.response_output_settings(audio_output=True, voice="alloy", encoding=pcm, temperature=0.8) == {
        "modalities": ["audio", "text"],
        "voice": "alloy",
        "output_audio_format": "pcm16",
        "temperature": 0.8,
    }
    assert GA.response_output_settings(audio_output=False, voice="alloy", encoding=pcm, temperature=0.8) == {
        "output_modalities": ["text"],
        "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}},
    }
    counts = {"input_text": 3, "input_audio": 4, "cached": 1, "output_text": 5, "output_audio": 6}
    assert BETA.usage(**counts)["total_tokens"] == 18
    assert "image_tokens" not in BETA.usage(**counts)["input_token_details"]
    assert GA.usage(**counts)["input_token_details"]["image_tokens"] == 0


def test_dialect_by_name_and_the_beta_side_never_loads_ga() -> None:
    assert dialect("beta") is BETA
    assert dialect("ga") is GA
    code = (
        "import sys, voxpipe.realtime.dialect as d; d.BETA.event(d.EventKind.BUFFER_CLEARED); "
        "print('voxpipe.realtime.ga' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.strip() == "False"

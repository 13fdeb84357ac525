"""Serialisation rules and documented defaults of the session configuration types."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from voxpipe.errors import VoxpipeUsageError
from voxpipe.realtime import (
    ConversationItem,
    ConversationItemCreateEvent,
    InputAudioBufferAppendEvent,
    InputAudioBufferCommittedEvent,
    InputAudioNoiseReduction,
    InputAudioTranscription,
    ResponseCreatedEvent,
    ResponseCreateEvent,
    ResponseProperties,
    SemanticTurnDetection,
    Session,
    SessionCreatedEvent,
    SessionProperties,
    SessionUpdateEvent,
    TurnDetection,
    ga,
    new_event_id,
    parse_server_event,
    serialize_event,
)
from voxpipe.realtime.beta import events as beta_events
from voxpipe.realtime.ga import events as ga_events


def wire(event: Any) -> dict[str, Any]:
    text = serialize_event(event)
    assert text == event.to_json()
    return json.loads(text)  # type: ignore[no-any-return]


def session_update(**fields: Any) -> dict[str, Any]:
    return wire(SessionUpdateEvent(session=SessionProperties(**fields)))["session"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "cls",
    [
        cls
        for table in (
            beta_events.CLIENT_EVENT_TYPES,
            beta_events.SERVER_EVENT_TYPES,
            ga_events.CLIENT_EVENT_TYPES,
            ga_events.SERVER_EVENT_TYPES,
        )
        for cls in table.values()
    ],
    ids=lambda cls: f"{cls.__module__.rsplit('.', 2)[-2]}.{cls.__name__}",
)
def test_type_is_always_written(cls: Any) -> None:
    """Built in Python without passing ``type``: the defaulted literal is still on the wire."""
    event = cls(**_required(cls))
    assert "type" in event.model_fields_set
    assert json.loads(serialize_event(event))["type"] == cls.model_fields["type"].default


_BY_NAME: dict[str, Any] = {"error": {"type": "server_error", "message": "m"}, "rate_limits": []}
_BY_TYPE: dict[Any, Any] = {str: "x", int: 1, float: 1.0}


def _required(cls: Any) -> dict[str, Any]:
    return {
        name: _BY_NAME.get(name, _BY_TYPE.get(field.annotation, {}))
        for name, field in cls.model_fields.items()
        if field.is_required()
    }


def test_built_events_write_type_and_only_what_was_set() -> None:
    assert wire(InputAudioBufferAppendEvent(audio="AAAA")) == {
        "type": "input_audio_buffer.append",
        "audio": "AAAA",
    }
    assert wire(ResponseCreateEvent()) == {"type": "response.create"}
    assert wire(SessionUpdateEvent(session=SessionProperties())) == {"type": "session.update", "session": {}}
    assert wire(ResponseCreateEvent(event_id="c1")) == {"type": "response.create", "event_id": "c1"}
    # type first on the wire, so peers (and our own parser) take the fast path.
    assert serialize_event(InputAudioBufferAppendEvent(audio="A")).startswith(
        '{"type":"input_audio_buffer.append"'
    )


def test_server_events_built_in_python_get_an_event_id_and_keep_explicit_nulls() -> None:
    event = InputAudioBufferCommittedEvent(item_id="item_1", previous_item_id=None)
    data = wire(event)
    assert data["event_id"].startswith("event_") and len(data["event_id"]) == 27
    assert data["previous_item_id"] is None  # a real server sends the null
    response = wire(ResponseCreatedEvent(response={"id": "resp_1", "status_details": None, "usage": None}))
    assert response["response"] == {"id": "resp_1", "status_details": None, "usage": None}


def test_turn_detection_false_is_null_on_the_wire() -> None:
    assert session_update(turn_detection=False) == {"turn_detection": None}
    assert session_update(turn_detection=True) == {"turn_detection": {"type": "server_vad"}}
    # None is "not given" (pipecat semantics): nothing is sent, the server keeps its VAD.
    assert session_update(turn_detection=None) == {}
    assert session_update(voice=None, instructions=None, temperature=0.7) == {"temperature": 0.7}
    ga_update = ga.SessionUpdateEvent(
        session=ga.SessionProperties(
            type="realtime", audio=ga.AudioConfig(input=ga.AudioInput(turn_detection=False))
        )
    )
    assert wire(ga_update)["session"]["audio"] == {"input": {"turn_detection": None}}


def test_max_response_output_tokens_inf_and_int() -> None:
    assert session_update(max_response_output_tokens="inf") == {"max_response_output_tokens": "inf"}
    assert session_update(max_response_output_tokens=4096) == {"max_response_output_tokens": 4096}
    with pytest.raises(ValueError):
        SessionProperties(max_response_output_tokens="lots")  # type: ignore[arg-type]


def test_session_properties_defaults_are_all_unset() -> None:
    props = SessionProperties()
    for name in SessionProperties.model_fields:
        assert getattr(props, name) is None, name
    assert props.model_fields_set == set()


def test_turn_detection_defaults() -> None:
    td = TurnDetection()
    assert (td.type, td.threshold, td.prefix_padding_ms, td.silence_duration_ms) == (
        "server_vad",
        0.5,
        300,
        800,
    )
    assert td.create_response is None and td.interrupt_response is None
    assert session_update(turn_detection=td) == {
        "turn_detection": {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 800,
        }
    }
    assert session_update(turn_detection=TurnDetection(silence_duration_ms=500, create_response=False)) == {
        "turn_detection": {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 500,
            "create_response": False,
        }
    }


def test_semantic_turn_detection_defaults() -> None:
    sd = SemanticTurnDetection()
    assert (sd.type, sd.eagerness, sd.create_response, sd.interrupt_response) == (
        "semantic_vad",
        "auto",
        True,
        True,
    )
    assert session_update(turn_detection=SemanticTurnDetection(eagerness="high")) == {
        "turn_detection": {
            "type": "semantic_vad",
            "eagerness": "high",
            "create_response": True,
            "interrupt_response": True,
        }
    }


def test_transcription_and_noise_reduction() -> None:
    assert session_update(input_audio_transcription=InputAudioTranscription()) == {
        "input_audio_transcription": {"model": "gpt-4o-transcribe"}
    }
    assert session_update(
        input_audio_transcription=InputAudioTranscription(
            model="whisper-1", language="en", prompt="tech talk"
        ),
        input_audio_noise_reduction=InputAudioNoiseReduction(type="far_field"),
    ) == {
        "input_audio_transcription": {"model": "whisper-1", "language": "en", "prompt": "tech talk"},
        "input_audio_noise_reduction": {"type": "far_field"},
    }
    with pytest.raises(ValueError):
        InputAudioNoiseReduction(type="medium_field")  # type: ignore[arg-type]


def test_audio_formats_are_checked() -> None:
    assert session_update(input_audio_format="g711_ulaw", output_audio_format="g711_alaw") == {
        "input_audio_format": "g711_ulaw",
        "output_audio_format": "g711_alaw",
    }
    with pytest.raises(ValueError):
        SessionProperties(input_audio_format="mp3")  # type: ignore[arg-type]


def test_tools_accept_plain_dicts_unchanged() -> None:
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    props = SessionProperties(tools=[tool], tool_choice="auto")
    assert props.tools == [tool]
    assert session_update(tools=[tool], tool_choice="required") == {
        "tools": [tool],
        "tool_choice": "required",
    }
    assert session_update(tools=[]) == {"tools": []}


def test_tools_accept_other_objects_for_the_service_to_convert() -> None:
    class ToolsSchemaLike:
        standard_tools: list[Any] = []

    schema = ToolsSchemaLike()
    props = SessionProperties(tools=schema)
    assert props.tools is schema
    converted = props.model_copy(update={"tools": [{"type": "function", "name": "f"}]})
    assert wire(SessionUpdateEvent(session=converted))["session"] == {
        "tools": [{"type": "function", "name": "f"}]
    }


def test_response_properties_pipecat_style() -> None:
    event = ResponseCreateEvent(
        response=ResponseProperties(modalities=["audio", "text"], tools=[], voice=None)
    )
    assert wire(event) == {
        "type": "response.create",
        "response": {"modalities": ["audio", "text"], "tools": []},
    }


def test_conversation_item_round_trip() -> None:
    item = ConversationItem(type="function_call_output", call_id="call_1", output='{"ok": true}')
    assert wire(ConversationItemCreateEvent(item=item)) == {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": "call_1", "output": '{"ok": true}'},
    }


def test_server_session_keeps_explicit_nulls() -> None:
    event = SessionCreatedEvent(
        session=Session(id="sess_1", input_audio_transcription=None, turn_detection=None)
    )
    assert wire(event)["session"] == {
        "id": "sess_1",
        "input_audio_transcription": None,
        "turn_detection": None,
    }


def test_parsed_events_reserialise_exactly() -> None:
    raw = {
        "type": "session.created",
        "event_id": "event_1",
        "session": {"turn_detection": {"type": "server_vad"}, "tools": [], "temperature": 0.8, "voice": None},
    }
    assert json.loads(serialize_event(parse_server_event(raw))) == raw  # no defaults added on parse


@pytest.mark.parametrize("audio", ["AAAA", "", "ab+/==", 'a"b', "a\\b", "é", "a\nb", "x" * 5000])
@pytest.mark.parametrize("event_id", [None, "c1", 'q"x', "tab\t", "é"])
def test_append_shortcut_is_byte_identical_to_the_general_path(audio: str, event_id: str | None) -> None:
    event = (
        InputAudioBufferAppendEvent(audio=audio)
        if event_id is None
        else InputAudioBufferAppendEvent(audio=audio, event_id=event_id)
    )
    general = event.__pydantic_serializer__.to_json(event, exclude_unset=True).decode()
    assert serialize_event(event) == general
    assert json.loads(serialize_event(event))["audio"] == audio


def test_model_construct_still_writes_type() -> None:
    event = InputAudioBufferAppendEvent.model_construct(audio="AAAA")
    assert json.loads(serialize_event(event)) == {"type": "input_audio_buffer.append", "audio": "AAAA"}
    done = ResponseCreateEvent.model_construct()
    assert json.loads(done.to_json()) == {"type": "response.create"}


def test_unconverted_tools_object_fails_clearly_on_serialise() -> None:
    class ToolsSchemaLike:
        pass

    event = SessionUpdateEvent(session=SessionProperties(tools=ToolsSchemaLike()))
    with pytest.raises(VoxpipeUsageError, match="ToolsSchema"):
        serialize_event(event)


def test_tools_reject_json_values_that_are_not_lists() -> None:
    with pytest.raises(ValueError):
        SessionProperties(tools="get_weather")
    with pytest.raises(ValueError):
        SessionProperties(tools=[{"type": "function", "name": 3}])
    mcp = {"type": "mcp", "server_label": "x"}  # other tool kinds pass as dicts
    assert ga.SessionProperties(tools=[mcp]).tools == [mcp]


def test_ga_session_update_always_has_a_type() -> None:
    assert wire(ga.SessionUpdateEvent(session=ga.SessionProperties())) == {
        "type": "session.update",
        "session": {"type": "realtime"},
    }
    transcription = ga.SessionUpdateEvent(session=ga.SessionProperties(type="transcription"))
    assert wire(transcription)["session"] == {"type": "transcription"}


def test_new_event_id_shape() -> None:
    ids = {new_event_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(r"event_[0-9A-Za-z]{21}", i) for i in ids)
    assert re.fullmatch(r"item_[0-9A-Za-z]{21}", new_event_id("item_"))

"""Parser behaviour: fast and slow paths, unknown types and fields, bad input, lenient and strict modes."""

from __future__ import annotations

import json
import logging

import pytest

from voxpipe.errors import VoxpipeUsageError
from voxpipe.realtime import (
    ErrorEvent,
    EventParseError,
    EventValidationError,
    InputAudioBufferAppendEvent,
    ResponseAudioDeltaEvent,
    ResponseDoneEvent,
    SessionUpdateEvent,
    TurnDetection,
    UnknownClientEvent,
    UnknownServerEvent,
    Usage,
    ga,
    parse_client_event,
    parse_server_event,
    serialize_event,
)
from voxpipe.realtime._parser import _reset_warnings_for_tests

AUDIO_DELTA = {
    "type": "response.audio.delta",
    "event_id": "event_1",
    "response_id": "resp_1",
    "item_id": "item_1",
    "output_index": 0,
    "content_index": 0,
    "delta": "AAAA",
}


@pytest.fixture(autouse=True)
def _fresh_warnings() -> None:
    _reset_warnings_for_tests()


@pytest.mark.parametrize(
    "data",
    [
        json.dumps(AUDIO_DELTA, separators=(",", ":")),  # fast path: "type" first, compact
        json.dumps(AUDIO_DELTA),  # fast path with a space after the colon
        json.dumps(AUDIO_DELTA).encode(),  # bytes
        json.dumps(dict(reversed(AUDIO_DELTA.items()))),  # "type" last: slow path
        "  " + json.dumps(AUDIO_DELTA),  # leading whitespace: slow path
        AUDIO_DELTA,  # already decoded
    ],
)
def test_every_input_form_gives_the_same_event(data: object) -> None:
    event = parse_server_event(data)  # type: ignore[arg-type]
    assert isinstance(event, ResponseAudioDeltaEvent)
    assert event.delta == "AAAA"
    assert json.loads(serialize_event(event)) == AUDIO_DELTA


def test_nested_type_key_first_is_not_mistaken_for_the_event_type() -> None:
    text = '{"item":{"type":"message"},"type":"conversation.item.created","event_id":"e"}'
    event = parse_server_event(text)
    assert event.type == "conversation.item.created"


def test_unknown_server_type_is_kept_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    raw = {"type": "response.future_thing.delta", "event_id": "e", "secret_payload": "s3cr3t"}
    with caplog.at_level(logging.WARNING, logger="voxpipe.realtime"):
        first = parse_server_event(json.dumps(raw))
        parse_server_event(json.dumps(raw))
    assert isinstance(first, UnknownServerEvent)
    assert first.type == "response.future_thing.delta"
    assert first.raw == raw
    assert json.loads(serialize_event(first)) == raw
    records = [r for r in caplog.records if "future_thing" in r.getMessage()]
    assert len(records) == 1
    assert "s3cr3t" not in caplog.text  # never the payload


def test_unknown_client_type_is_kept_when_not_strict() -> None:
    event = parse_client_event('{"type":"session.close"}')
    assert isinstance(event, UnknownClientEvent)
    assert event.raw == {"type": "session.close"}


def test_ga_names_are_unknown_in_beta_and_known_in_ga() -> None:
    raw = {**AUDIO_DELTA, "type": "response.output_audio.delta", "obfuscation": "zz"}
    assert isinstance(parse_server_event(raw), UnknownServerEvent)
    event = parse_server_event(raw, shape="ga")
    assert isinstance(event, ga.ResponseOutputAudioDeltaEvent)
    assert event.obfuscation == "zz"


def test_unknown_fields_are_kept_at_every_level() -> None:
    raw = {
        "type": "session.updated",
        "event_id": "e",
        "new_top": 1,
        "session": {
            "voice": "alloy",
            "new_field": {"a": [1, 2]},
            "turn_detection": {"type": "server_vad", "x": 2},
        },
    }
    event = parse_server_event(raw)
    assert event.model_extra == {"new_top": 1}
    assert event.session.model_extra == {"new_field": {"a": [1, 2]}}  # type: ignore[union-attr]
    assert json.loads(serialize_event(event)) == raw


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("{not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        ("", "invalid_json"),
        ("[1, 2]", "invalid_event"),
        ('"text"', "invalid_event"),
        ('{"event_id": "e"}', "invalid_event"),
        ('{"type": 5}', "invalid_event"),
        ('{"type": null}', "invalid_event"),
        ('{"type":"response.audio.delta", broken', "invalid_json"),
    ],
)
def test_malformed_input_raises_event_parse_error(data: str | bytes, code: str) -> None:
    for parse in (parse_server_event, parse_client_event):
        with pytest.raises(EventParseError) as info:
            parse(data)
        assert info.value.code == code
        assert isinstance(info.value, VoxpipeUsageError)
        assert isinstance(info.value, ValueError)


def test_wrong_input_type_raises_event_parse_error() -> None:
    with pytest.raises(EventParseError):
        parse_server_event(42)  # type: ignore[call-overload]


def test_unknown_shape_is_a_usage_error() -> None:
    with pytest.raises(VoxpipeUsageError, match="shape"):
        parse_server_event(AUDIO_DELTA, shape="v2")


def test_invalid_fields_are_built_leniently_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    raw = {
        "type": "response.done",
        "event_id": "e",
        "response": {
            "id": "resp_1",
            "status": "paused",  # not a known status
            "usage": {"total_tokens": 3, "input_tokens": 2, "output_tokens": 1},
            "output": [],
        },
    }
    with caplog.at_level(logging.WARNING, logger="voxpipe.realtime"):
        event = parse_server_event(json.dumps(raw))
        parse_server_event(json.dumps(raw))
    assert isinstance(event, ResponseDoneEvent)
    assert event.response.status == "paused"  # kept raw
    assert isinstance(event.response.usage, Usage)  # valid parts still typed
    assert event.response.usage.total_tokens == 3
    assert json.loads(serialize_event(event)) == raw
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "built leniently" in m]) == 1
    assert "response.status" in messages[0]


def test_missing_required_field_is_absent_not_fatal() -> None:
    event = parse_server_event({"type": "error", "event_id": "e", "error": {"message": "no type"}})
    assert isinstance(event, ErrorEvent)
    assert event.error.message == "no type"
    with pytest.raises(AttributeError):
        _ = event.error.type


def test_wrong_type_in_a_list_keeps_the_other_items_typed() -> None:
    raw = {
        "type": "rate_limits.updated",
        "event_id": "e",
        "rate_limits": [{"name": "tokens", "limit": 10}, {"name": "future", "limit": "lots"}],
    }
    event = parse_server_event(raw)
    assert event.rate_limits[0].limit == 10  # type: ignore[union-attr]
    assert json.loads(serialize_event(event)) == raw


# -- strict client parsing (the local server) --------------------------------------------------


def _strict_error(data: object, shape: str = "beta") -> EventValidationError:
    with pytest.raises(EventValidationError) as info:
        parse_client_event(data if isinstance(data, str) else json.dumps(data), shape=shape, strict=True)  # type: ignore[call-overload]
    return info.value


def test_strict_accepts_a_valid_event() -> None:
    event = parse_client_event('{"type":"input_audio_buffer.append","audio":"AAAA"}', strict=True)
    assert isinstance(event, InputAudioBufferAppendEvent)


def test_strict_unknown_type() -> None:
    err = _strict_error({"type": "nope", "event_id": "c1"})
    assert (err.code, err.param, err.event_id) == ("invalid_value", "type", "c1")
    assert "session.update" in str(err)


def test_strict_missing_field() -> None:
    err = _strict_error({"type": "input_audio_buffer.append"})
    assert (err.code, err.param) == ("missing_required_parameter", "audio")
    assert str(err) == "Missing required parameter: 'audio'."


def test_strict_wrong_type_is_not_coerced() -> None:
    err = _strict_error(
        {"type": "conversation.item.truncate", "item_id": "i", "content_index": "0", "audio_end_ms": 5}
    )
    assert (err.code, err.param) == ("invalid_type", "content_index")
    # ...while the tolerant mode coerces like pydantic's lax mode.
    event = parse_client_event(
        {"type": "conversation.item.truncate", "item_id": "i", "content_index": "0", "audio_end_ms": 5}
    )
    assert event.content_index == 0  # type: ignore[union-attr]


def test_strict_bad_nested_value_names_the_wire_path() -> None:
    err = _strict_error(
        {"type": "session.update", "session": {"turn_detection": {"type": "server_vad", "threshold": "high"}}}
    )
    assert err.param == "session.turn_detection.threshold"
    assert err.code == "invalid_type"
    err = _strict_error({"type": "session.update", "session": {"input_audio_format": "mp3"}})
    assert (err.code, err.param) == ("invalid_value", "session.input_audio_format")
    err = _strict_error(
        {"type": "conversation.item.create", "item": {"type": "message", "content": [{"type": "video"}]}}
    )
    assert err.param == "item.content[0].type"


def test_strict_unknown_parameter() -> None:
    err = _strict_error({"type": "session.update", "event_id": "c9", "session": {"bogus_field": 1}})
    assert (err.code, err.param, err.event_id) == ("unknown_parameter", "session.bogus_field", "c9")
    assert str(err) == "Unknown parameter: 'session.bogus_field'."
    err = _strict_error({"type": "response.cancel", "extra": True})
    assert err.param == "extra"


def test_strict_ga_shape() -> None:
    event = parse_client_event(
        {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}},
        shape="ga",
        strict=True,
    )
    assert isinstance(event, ga.SessionUpdateEvent)
    err = _strict_error({"type": "transcription_session.update", "session": {}}, shape="ga")
    assert (err.code, err.param) == ("invalid_value", "type")


def test_strict_turn_detection_false_and_objects() -> None:
    event = parse_client_event({"type": "session.update", "session": {"turn_detection": None}}, strict=True)
    assert isinstance(event, SessionUpdateEvent)
    assert event.session.turn_detection is None
    assert "turn_detection" in event.session.model_fields_set  # null means "disable", not "unset"
    event = parse_client_event(
        {"type": "session.update", "session": {"turn_detection": {"type": "server_vad", "threshold": 0.7}}},
        strict=True,
    )
    assert isinstance(event.session.turn_detection, TurnDetection)  # type: ignore[union-attr]


def test_strict_checks_tools() -> None:
    err = _strict_error({"type": "session.update", "session": {"tools": "x"}})
    assert (err.code, err.param) == ("invalid_type", "session.tools")
    err = _strict_error({"type": "session.update", "session": {"tools": [{"type": "function", "name": 3}]}})
    assert (err.code, err.param) == ("invalid_type", "session.tools[0].name")


def test_strict_fast_and_slow_paths_agree() -> None:
    good = '{"type":"conversation.item.delete","item_id":"item_1","event_id":"c2"}'
    assert parse_client_event(good, strict=True) == parse_client_event(json.loads(good), strict=True)
    bad = '{"type":"conversation.item.delete","item_id":"item_1","event_id":"c2","bogus":1}'
    err = _strict_error(bad)
    assert (err.code, err.param, err.event_id) == ("unknown_parameter", "bogus", "c2")

"""Session updates and response overrides: validated once into models, read through the dialect."""

from __future__ import annotations

import pytest

from voxpipe.realtime import parse_client_event
from voxpipe.realtime.dialect import BETA, GA
from voxpipe.server.connection.conversation import Item
from voxpipe.server.connection.errors import ProtocolError
from voxpipe.server.connection.response_request import response_request
from voxpipe.server.connection.session_update import apply_update, default_session, derive_settings
from voxpipe.server.connection.settings import AudioCodec, ItemReference, TurnDetectionKind


def _session(dialect):
    return default_session(dialect, session_id="sess_1", model="m", expires_at=0, instructions="Be brief.")


def _update(dialect, session: dict):
    event = parse_client_event(
        {"type": "session.update", "session": session}, shape=dialect.name, strict=True
    )
    return event.session


def _response(dialect, response: dict):
    event = parse_client_event(
        {"type": "response.create", "response": response}, shape=dialect.name, strict=True
    )
    return event.response


@pytest.mark.parametrize("dialect", [BETA, GA], ids=lambda d: d.name)
def test_defaults_read_the_same_in_both_dialects(dialect) -> None:
    settings = derive_settings(dialect, _session(dialect))
    assert (settings.voice, settings.input_codec, settings.audio_output) == ("alloy", AudioCodec.PCM16, True)
    assert settings.turn_detection is not None and settings.turn_detection.silence_duration_ms == 200
    assert settings.instructions == "Be brief."


def test_a_partial_turn_detection_is_completed_with_server_defaults() -> None:
    session, settings = apply_update(
        BETA, _session(BETA), _update(BETA, {"turn_detection": {"type": "server_vad", "threshold": 0.7}})
    )
    assert settings.turn_detection is not None
    assert (settings.turn_detection.threshold, settings.turn_detection.silence_duration_ms) == (0.7, 200)
    assert session.to_dict()["turn_detection"]["prefix_padding_ms"] == 300  # echoed complete


def test_ga_audio_merges_field_by_field_and_formats_read_as_codecs() -> None:
    current = _session(GA)
    update = _update(GA, {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcmu"}}}})
    session, settings = apply_update(GA, current, update)
    assert settings.input_codec is AudioCodec.ULAW
    assert settings.output_codec is AudioCodec.PCM16
    wire = session.to_dict()["audio"]
    assert wire["input"]["turn_detection"]["type"] == "server_vad"  # kept: only the format changed
    update = _update(
        GA, {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}}
    )
    _, settings = apply_update(GA, session, update)
    assert (
        settings.turn_detection is not None and settings.turn_detection.kind is TurnDetectionKind.SEMANTIC_VAD
    )
    assert settings.input_codec is AudioCodec.ULAW


@pytest.mark.parametrize(
    ("dialect", "session", "param"),
    [
        (BETA, {"voice": "nobody"}, "session.voice"),
        (GA, {"type": "realtime", "audio": {"output": {"voice": "nobody"}}}, "session.audio.output.voice"),
        (BETA, {"max_response_output_tokens": 0}, "session.max_response_output_tokens"),
        (GA, {"type": "realtime", "max_output_tokens": 0}, "session.max_output_tokens"),
        (GA, {"type": "realtime", "output_modalities": ["audio", "text"]}, "session.output_modalities"),
        (GA, {"audio": {}}, "session.type"),
        (
            GA,
            {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
            "session.audio.input.format.rate",
        ),
    ],
)
def test_errors_name_the_field_where_the_dialect_keeps_it(dialect, session, param) -> None:
    current = _session(dialect)
    with pytest.raises(ProtocolError) as caught:
        apply_update(dialect, current, _update(dialect, session))
    assert caught.value.param == param


def test_response_overrides_read_the_same_in_both_dialects() -> None:
    base = derive_settings(BETA, _session(BETA))
    beta = response_request(
        BETA,
        base,
        _response(BETA, {"modalities": ["text"], "voice": "sage", "output_audio_format": "g711_alaw"}),
    )
    ga = response_request(
        GA,
        base,
        _response(
            GA,
            {
                "output_modalities": ["text"],
                "audio": {"output": {"voice": "sage", "format": {"type": "audio/pcma"}}},
            },
        ),
    )
    for request in (beta, ga):
        assert (request.settings.audio_output, request.settings.voice) == (False, "sage")
        assert request.settings.output_codec is AudioCodec.ALAW
    with pytest.raises(ProtocolError) as caught:
        response_request(GA, base, _response(GA, {"max_output_tokens": 5000}))
    assert caught.value.param == "response.max_output_tokens"


def test_response_input_becomes_items_and_references_once() -> None:
    base = derive_settings(BETA, _session(BETA))
    request = response_request(
        BETA,
        base,
        _response(
            BETA,
            {
                "conversation": "none",
                "input": [
                    {"type": "item_reference", "id": "item_1"},
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
                ],
            },
        ),
    )
    reference, item = request.input_items or []
    assert reference == ItemReference("item_1")
    assert isinstance(item, Item) and item.content[0].text == "Hi"
    assert request.out_of_band

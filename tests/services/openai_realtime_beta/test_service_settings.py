"""Settings the spec documents: ``tool_choice`` values, nested partial updates, and server text kept clean."""

from __future__ import annotations

import logging

import pytest

from voxpipe.errors import VoxpipeUsageError
from voxpipe.frames.frames import ErrorFrame, LLMUpdateSettingsFrame
from voxpipe.realtime import parse_server_event
from voxpipe.services._realtime_service.tools import merge_settings
from voxpipe.services.openai_realtime_beta.events import (
    SemanticTurnDetection,
    Session,
    SessionProperties,
    TurnDetection,
)
from voxpipe.testing import expect, send

from .rig import KEY, rig


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_tool_choice_takes_the_documented_values(choice: str) -> None:
    assert SessionProperties(tool_choice=choice).to_dict() == {"tool_choice": choice}


@pytest.mark.parametrize("choice", ["always", "get_weather", "", {"type": "function", "name": "f"}])
def test_tool_choice_refuses_anything_else(choice: object) -> None:
    with pytest.raises(VoxpipeUsageError, match="'auto', 'none', 'required'"):
        SessionProperties(tool_choice=choice)


def test_a_tool_choice_read_from_the_wire_is_kept_as_sent() -> None:
    # A server (or a client of our server) may name a function; reading never refuses it.
    event = parse_server_event(
        {"type": "session.updated", "event_id": "e1", "session": {"tool_choice": "get_weather"}}
    )
    assert isinstance(event.session, Session) and event.session.tool_choice == "get_weather"


def test_a_nested_partial_update_merges_field_by_field() -> None:
    current = SessionProperties(turn_detection=TurnDetection(threshold=0.7, silence_duration_ms=800))
    for update in (
        {"silence_duration_ms": 300},
        TurnDetection.model_construct(silence_duration_ms=300, _fields_set={"silence_duration_ms"}),
    ):
        merged = merge_settings(current, {"turn_detection": update})
        assert isinstance(merged.turn_detection, TurnDetection)
        assert merged.turn_detection.threshold == 0.7
        assert merged.turn_detection.silence_duration_ms == 300
        assert merged.turn_detection.prefix_padding_ms == 300


def test_a_nested_update_of_another_kind_replaces_the_setting() -> None:
    current = SessionProperties(turn_detection=TurnDetection(threshold=0.7))
    merged = merge_settings(current, {"turn_detection": SemanticTurnDetection(eagerness="low")})
    assert isinstance(merged.turn_detection, SemanticTurnDetection)
    off = merge_settings(current, {"turn_detection": False})
    assert off.turn_detection is False
    assert merge_settings(current, {"voice": "echo"}).turn_detection == current.turn_detection


async def test_the_server_gets_the_whole_merged_object() -> None:
    props = SessionProperties(turn_detection=TurnDetection(threshold=0.7, silence_duration_ms=800))
    merged = {"type": "server_vad", "threshold": 0.7, "prefix_padding_ms": 300, "silence_duration_ms": 250}
    script = [
        expect("session.update"),
        expect("session.update", session={"turn_detection": merged}),
    ]
    async with rig(script, service_kwargs={"session_properties": props}) as r:
        frame = LLMUpdateSettingsFrame(settings={"turn_detection": {"silence_duration_ms": 250}})
        await r.task.queue_frame(frame)
        await r.server.assert_done()
    update = r.server.received("session.update")[1]["session"]
    assert update == {"turn_detection": merged}  # only the setting that changed, whole


async def test_server_error_text_is_redacted_before_logging_and_reporting(caplog) -> None:
    echoed = f"Unknown parameter: 'session.api_key' with value '{KEY}'; also sk-proj-abcdefghijklmnop123"
    script = [
        expect("session.update"),
        send(
            {
                "type": "error",
                "error": {"type": "invalid_request_error", "code": "unknown_parameter", "message": echoed},
            }
        ),
    ]
    with caplog.at_level(logging.DEBUG):
        async with rig(script) as r:
            await r.up.wait_for(lambda: bool(r.up.of(ErrorFrame)))
    (error,) = r.up.of(ErrorFrame)
    assert not error.fatal and "unknown_parameter" in error.error
    for text in [error.error, str(error.exception), *(record.getMessage() for record in caplog.records)]:
        assert KEY not in text and "sk-proj-abcdefghijklmnop123" not in text

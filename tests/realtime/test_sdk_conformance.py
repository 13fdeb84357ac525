"""Conformance with the official ``openai`` SDK types (openai==2.8.0).

Both directions, for every event type both sides define, beta (``openai.types.beta.realtime``)
and GA (``openai.types.realtime``):

* theirs -> ours: payloads generated from the SDK's own field types (several variants, so union
  members and literal values rotate), validated by the SDK, must validate with *our* model for that
  type (no lenient fallback), leave no field unmodelled (no extras), and re-serialise identically.
* ours -> theirs: our events, built in Python (minimal and realistic), serialised, must validate
  with the SDK's union.

The SDK's event literals are enumerated from its unions, so an event type we lack fails here.
Deliberate differences are listed below, each with the reason. Besides those, some of our field
types are *looser* than the SDK's, on purpose, so that new server values do not break parsing
(theirs -> ours proves we accept everything the SDK accepts; the reverse holds for events built
with real values, not for arbitrary strings): ``model``, ``voice`` and transcription ``model`` are
any string; ``audio/pcm`` ``rate`` is any int; GA items are one flat model whose content ``type``
also allows beta's ``text``/``audio`` (a documented GA example uses them); GA ``session.type`` and
``tool_choice``/``truncation``/``prompt`` objects are free-form.
"""

from __future__ import annotations

import json
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pydantic
import pytest
from openai.types.beta.realtime import realtime_client_event as sdk_beta_client
from openai.types.beta.realtime import realtime_server_event as sdk_beta_server
from openai.types.realtime import realtime_client_event as sdk_ga_client
from openai.types.realtime import realtime_server_event as sdk_ga_server

from voxpipe.realtime import (
    ConversationItem,
    ConversationItemCreateEvent,
    ConversationItemTruncateEvent,
    EventValidationError,
    FunctionTool,
    InputAudioBufferAppendEvent,
    InputAudioNoiseReduction,
    InputAudioTranscription,
    ResponseCreateEvent,
    ResponseProperties,
    SemanticTurnDetection,
    SessionProperties,
    SessionUpdateEvent,
    TurnDetection,
    ga,
    parse_client_event,
    serialize_event,
)
from voxpipe.realtime._loose import first_extra
from voxpipe.realtime.beta import events as beta_events
from voxpipe.realtime.ga import events as ga_events

SDK_UNIONS = {
    ("beta", "server"): sdk_beta_server.RealtimeServerEvent,
    ("beta", "client"): sdk_beta_client.RealtimeClientEvent,
    ("ga", "server"): sdk_ga_server.RealtimeServerEvent,
    ("ga", "client"): sdk_ga_client.RealtimeClientEvent,
}
OUR_TABLES = {
    ("beta", "server"): beta_events.SERVER_EVENT_TYPES,
    ("beta", "client"): beta_events.CLIENT_EVENT_TYPES,
    ("ga", "server"): ga_events.SERVER_EVENT_TYPES,
    ("ga", "client"): ga_events.CLIENT_EVENT_TYPES,
}

# Event types we define that openai 2.8.0 does not.
EXTRA_EVENT_TYPES: dict[tuple[str, str], set[str]] = {
    # Documented by OpenAI for SIP calls and in later SDKs (protocol reference section 13).
    ("ga", "server"): {"input_audio_buffer.dtmf_event_received"},
}

# SDK fields we keep as extras instead of modelling, by field name. GA MCP items and tools are
# rare, large and irrelevant to voice pipelines; they round-trip unchanged as extras.
UNMODELLED_FIELDS: dict[str, set[str]] = {
    "ga": {
        "server_label",
        "tools",
        "approval_request_id",
        "approve",
        "reason",
        "error",
        "server_description",
    },
    "beta": set(),
}

# The beta SDK has one TurnDetection model for both kinds; ours are TurnDetection (server_vad) and
# SemanticTurnDetection (semantic_vad), as in pipecat. A payload that mixes the two kinds' fields
# keeps the other kind's fields as extras.
VAD_FIELDS = {"eagerness", "threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"}

VARIANTS = range(9)  # rotates through unions of up to 9 members (GA items)


def _members(union: Any) -> list[type[pydantic.BaseModel]]:
    while get_origin(union) is Annotated:
        union = get_args(union)[0]
    out = []
    for member in get_args(union):
        inner = member
        while get_origin(inner) is Annotated:
            inner = get_args(inner)[0]
        out.append(inner)
    return out


def _sdk_classes(key: tuple[str, str]) -> dict[str, type[pydantic.BaseModel]]:
    table = {}
    for cls in _members(SDK_UNIONS[key]):
        (literal,) = get_args(cls.model_fields["type"].annotation)
        table[literal] = cls
    return table


def _sample(annotation: Any, variant: int, depth: int = 0, minimal: bool = False) -> Any:
    """A value valid for ``annotation``; ``variant`` picks among union members and literal values.

    ``minimal`` fills required fields only, at every depth.
    """
    origin = get_origin(annotation)
    if origin is Annotated:
        return _sample(get_args(annotation)[0], variant, depth, minimal)
    if origin is Literal:
        args = get_args(annotation)
        return args[variant % len(args)]
    if origin in (Union, types.UnionType):
        members = [m for m in get_args(annotation) if m is not type(None)]
        return _sample(members[variant % len(members)], variant // len(members) + variant, depth, minimal)
    if origin is list:
        (item,) = get_args(annotation) or (Any,)
        return [_sample(item, variant, depth + 1, minimal)]
    if origin is dict:
        _, value = get_args(annotation) or (str, Any)
        return {"k": _sample(value, variant, depth + 1, minimal)}
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        out = {}
        for name, field in annotation.model_fields.items():
            if (minimal or depth > 5) and not field.is_required():
                continue
            out[field.alias or name] = _sample(field.annotation, variant, depth + 1, minimal)
        return out
    if annotation is str:
        return "x"
    if annotation is bool:
        return True
    if annotation is int:
        return 7
    if annotation is float:
        return 0.5
    if annotation is type(None):
        return None
    return {"k": "v"}  # object / Any


def _sdk_payloads(cls: type[pydantic.BaseModel]) -> list[dict[str, Any]]:
    """Distinct SDK-valid wire payloads for one SDK event class."""
    seen: dict[str, dict[str, Any]] = {}
    for variant in VARIANTS:
        raw = _sample(cls, variant)
        try:
            instance = cls.model_validate(raw)
        except pydantic.ValidationError:
            continue  # a combination the SDK itself rejects (cross-field literal clash)
        payload = instance.model_dump(mode="json", exclude_unset=True, by_alias=True)
        seen[json.dumps(payload, sort_keys=True)] = payload
    assert seen, f"no valid sample for {cls.__name__}"
    return list(seen.values())


KEYS = sorted(SDK_UNIONS)


@pytest.mark.parametrize("key", KEYS, ids="-".join)
def test_same_event_types_as_sdk(key: tuple[str, str]) -> None:
    theirs = set(_sdk_classes(key))
    ours = set(OUR_TABLES[key])
    assert theirs - ours == set(), "event types in the SDK but not here"
    assert ours - theirs == EXTRA_EVENT_TYPES.get(key, set()), "undocumented extra event types"


def _extras_allowed(path: str, shape: str) -> bool:
    leaf = path.rsplit(".", 1)[-1].split("[", 1)[0]
    if path.endswith(f"turn_detection.{leaf}") and leaf in VAD_FIELDS:
        return True
    return leaf in UNMODELLED_FIELDS[shape]


@pytest.mark.parametrize("key", KEYS, ids="-".join)
def test_sdk_payloads_parse_as_ours(key: tuple[str, str]) -> None:
    shape = key[0]
    failures = []
    for event_type, sdk_cls in sorted(_sdk_classes(key).items()):
        ours = OUR_TABLES[key][event_type]
        for payload in _sdk_payloads(sdk_cls):
            try:
                event = ours.model_validate(payload)
            except pydantic.ValidationError as exc:
                failures.append(f"{event_type}: ours rejects SDK payload: {exc.errors()[0]}")
                continue
            extra = first_extra(event)
            if extra is not None and not _extras_allowed(extra, shape):
                failures.append(f"{event_type}: SDK field not modelled: {extra}")
            if key[1] == "client" and extra is None:
                # The local server's strict mode accepts everything the SDK can send.
                try:
                    parse_client_event(json.dumps(payload), shape=shape, strict=True)
                except EventValidationError as exc:
                    failures.append(f"{event_type}: strict parse rejects SDK payload: {exc.param}: {exc}")
            wire = serialize_event(event)
            if json.loads(wire) != payload:
                failures.append(f"{event_type}: re-serialised differently")
            sdk_cls.model_validate_json(wire)
    assert not failures, "\n".join(failures)


# Fields the SDK requires and we do not, because real servers omit them (deliberate): filled in
# when checking that our minimal events satisfy the SDK.
_GA_ITEM = {"item": {"type": "message", "role": "user", "content": []}}
SDK_ONLY_REQUIRED: dict[tuple[str, str], dict[str, Any]] = {
    # 2024 servers sent no usage (traces: real/beta_samples_public.jsonl); required since openai 1.95.
    ("beta", "conversation.item.input_audio_transcription.completed"): {
        "usage": {"type": "duration", "seconds": 1.0}
    },
    ("ga", "conversation.item.input_audio_transcription.completed"): {
        "usage": {"type": "duration", "seconds": 1.0}
    },
    # The ephemeral key is only present in REST answers; over WebSocket we do not insist on it.
    ("beta", "transcription_session.updated"): {
        "session": {"client_secret": {"value": "ek_x", "expires_at": 1}}
    },
    # GA items are one flat model here (the SDK has one class per role, each with required fields).
    **{
        ("ga", t): _GA_ITEM
        for t in (
            "conversation.item.create",
            "conversation.item.created",
            "conversation.item.added",
            "conversation.item.done",
            "conversation.item.retrieved",
            "response.output_item.added",
            "response.output_item.done",
        )
    },
    # GA session.type is optional here: a documented GA session.created is beta-shaped (no type).
    **{
        ("ga", t): {"session": {"type": "realtime"}}
        for t in ("session.update", "session.created", "session.updated")
    },
}


def _minimal(cls: type[pydantic.BaseModel], shape: str, event_type: str) -> dict[str, Any]:
    """Required fields only (at every depth), sampled from our own annotations."""
    values = {
        name: _sample(field.annotation, 0, minimal=True)
        for name, field in cls.model_fields.items()
        if field.is_required()
    }
    values.update(SDK_ONLY_REQUIRED.get((shape, event_type), {}))
    return values


@pytest.mark.parametrize("key", KEYS, ids="-".join)
def test_our_minimal_events_validate_as_sdk(key: tuple[str, str]) -> None:
    sdk_classes = _sdk_classes(key)
    failures = []
    for event_type, ours in sorted(OUR_TABLES[key].items()):
        if event_type in EXTRA_EVENT_TYPES.get(key, set()):
            continue
        event = ours(**_minimal(ours, key[0], event_type))
        wire = serialize_event(event)
        assert json.loads(wire)["type"] == event_type
        try:
            sdk_classes[event_type].model_validate_json(wire)
        except pydantic.ValidationError as exc:
            failures.append(f"{event_type}: SDK rejects ours: {exc.errors()[0]}")
    assert not failures, "\n".join(failures)


def _realistic_beta_client_events() -> list[Any]:
    """Events as the pipecat-compatible service sends them."""
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Get the weather.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    return [
        SessionUpdateEvent(
            event_id="e1",
            session=SessionProperties(
                modalities=["audio", "text"],
                instructions="Be brief.",
                voice="alloy",
                input_audio_format="pcm16",
                output_audio_format="pcm16",
                input_audio_transcription=InputAudioTranscription(language="en"),
                input_audio_noise_reduction=InputAudioNoiseReduction(type="near_field"),
                turn_detection=TurnDetection(silence_duration_ms=500),
                tools=[tool, FunctionTool(name="f", parameters={"type": "object"})],
                tool_choice="auto",
                temperature=0.8,
                max_response_output_tokens="inf",
                speed=1.1,
                tracing="auto",
            ),
        ),
        SessionUpdateEvent(session=SessionProperties(turn_detection=SemanticTurnDetection())),
        SessionUpdateEvent(session=SessionProperties(turn_detection=False, max_response_output_tokens=512)),
        InputAudioBufferAppendEvent(audio="AAAA"),
        ConversationItemCreateEvent(
            item=ConversationItem(type="function_call_output", call_id="call_1", output='{"t": 21}')
        ),
        ConversationItemCreateEvent(
            item=ConversationItem(
                id="0123456789abcdef0123456789abcdef",
                type="message",
                role="user",
                content=[{"type": "input_text", "text": "hi"}],
            ),
            previous_item_id="root",
        ),
        ConversationItemTruncateEvent(item_id="item_A", content_index=0, audio_end_ms=80),
        ResponseCreateEvent(response=ResponseProperties(modalities=["audio", "text"], tools=[])),
        ResponseCreateEvent(),
    ]


def test_realistic_beta_client_events_validate_as_sdk() -> None:
    sdk_classes = _sdk_classes(("beta", "client"))
    for event in _realistic_beta_client_events():
        wire = serialize_event(event)
        parsed = sdk_classes[event.type].model_validate_json(wire)
        # The SDK sees exactly what we meant to send.
        assert parsed.model_dump(mode="json", exclude_unset=True) == json.loads(wire)


def test_realistic_ga_client_events_validate_as_sdk() -> None:
    sdk_classes = _sdk_classes(("ga", "client"))
    events = [
        ga.SessionUpdateEvent(
            session=ga.SessionProperties(
                type="realtime",
                output_modalities=["audio"],
                audio=ga.AudioConfig(
                    input=ga.AudioInput(
                        format=ga.AudioFormatSpec(type="audio/pcm", rate=24000),
                        transcription=InputAudioTranscription(),
                        turn_detection=False,
                    ),
                    output=ga.AudioOutput(voice="marin", speed=1.0),
                ),
                max_output_tokens="inf",
            )
        ),
        ga.ConversationItemCreateEvent(
            item=ga.ConversationItem(
                type="message", role="user", content=[{"type": "input_text", "text": "hi"}]
            )
        ),
        ga.ResponseCreateEvent(response=ga.ResponseProperties(output_modalities=["text"])),
    ]
    for event in events:
        wire = serialize_event(event)
        parsed = sdk_classes[event.type].model_validate_json(wire)
        assert parsed.model_dump(mode="json", exclude_unset=True) == json.loads(wire)

"""Property test: malformed client events thrown at a live server.

For every generated bad event the server answers with exactly one ``error`` event (validated against the
SDK union) and the session stays usable: a following ``input_audio_buffer.clear`` is answered by
``input_audio_buffer.cleared`` as the very next event. All examples share one session per shape, so state
left behind by one bad event would show up in the next. The server runs in a thread (hypothesis tests are
sync), with turn detection off so no audio side effects interleave.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from voxpipe.realtime.beta import CLIENT_EVENT_TYPES
from voxpipe.server import ServerConfig

from ._support import ThreadedServer, validate

pytestmark = pytest.mark.timeout(60)

_REQUIRED: dict[str, dict[str, Any]] = {
    "input_audio_buffer.append": {"audio": ""},
    "conversation.item.retrieve": {"item_id": "item_x"},
    "conversation.item.delete": {"item_id": "item_x"},
    "conversation.item.truncate": {"item_id": "item_x", "content_index": 0, "audio_end_ms": 0},
    "conversation.item.create": {"item": {"type": "message", "role": "user", "content": []}},
    "session.update": {"session": {}},
}
_NOT_A_STRING = st.one_of(
    st.integers(), st.booleans(), st.lists(st.integers(), max_size=2), st.just({"a": 1})
)
_NOT_AN_INT = st.one_of(st.text(max_size=5), st.booleans(), st.floats(allow_nan=False), st.none())
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


@st.composite
def _wrong_field(draw: st.DrawFn) -> dict[str, Any]:
    event_type = draw(st.sampled_from(sorted(_REQUIRED)))
    event = {"type": event_type, **_REQUIRED[event_type]}
    field = draw(st.sampled_from(sorted(_REQUIRED[event_type])))
    if draw(st.booleans()):
        del event[field]
    elif isinstance(event[field], int):
        event[field] = draw(_NOT_AN_INT)
    elif isinstance(event[field], str):
        event[field] = draw(_NOT_A_STRING | st.none())
    else:
        event[field] = draw(st.one_of(st.integers(), st.text(max_size=5), st.none()))
    return event


BAD_EVENTS = st.one_of(
    st.text(max_size=40).filter(lambda text: not _is_json_object(text)),
    st.binary(min_size=1, max_size=64),
    _JSON.filter(lambda value: not isinstance(value, dict)).map(json.dumps),
    st.dictionaries(st.text(max_size=6).filter(lambda key: key != "type"), _JSON, max_size=3),
    st.builds(lambda value: {"type": value}, _NOT_A_STRING),
    st.builds(
        lambda name, extra: {"type": name, **extra},
        st.text(min_size=1, max_size=30).filter(lambda name: name not in CLIENT_EVENT_TYPES),
        st.dictionaries(st.text(max_size=6).filter(lambda key: key != "type"), _JSON, max_size=2),
    ),
    _wrong_field(),
    st.builds(
        lambda name, key: {"type": name, **_REQUIRED.get(name, {}), f"x_{key}": 1},
        st.sampled_from(sorted(CLIENT_EVENT_TYPES)),
        st.text(alphabet="abcdefghij", min_size=1, max_size=6),
    ),
    st.builds(
        lambda junk: {"type": "input_audio_buffer.append", "audio": "%" + junk},
        st.text(alphabet="abc!@#$%^&*", max_size=20),
    ),
)


@pytest.fixture(scope="module")
def live_server() -> Iterator[ThreadedServer]:
    with ThreadedServer(ServerConfig(port=0, engines="test")) as running:
        yield running


def _prepare(ws: ClientConnection, shape: str) -> None:
    assert validate(shape, ws.recv(timeout=5))["type"] == "session.created"
    off = (
        {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
        if shape == "ga"
        else {"turn_detection": None}
    )
    ws.send(json.dumps({"type": "session.update", "session": off}))
    assert validate(shape, ws.recv(timeout=5))["type"] == "session.updated"


@pytest.mark.parametrize("shape", ["beta", "ga"])
def test_malformed_events_each_get_one_error(live_server: ThreadedServer, shape: str) -> None:
    headers = {"OpenAI-Beta": "realtime=v1"} if shape == "beta" else {}
    with connect(
        f"{live_server.realtime_url}?model=gpt-realtime", additional_headers=headers, max_size=None
    ) as ws:
        _prepare(ws, shape)
        _run_examples(ws, shape)


def _run_examples(ws: ClientConnection, shape: str) -> None:

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(event=BAD_EVENTS)
    def check(event: Any) -> None:
        ws.send(json.dumps(event) if isinstance(event, dict) else event)
        reply = validate(shape, ws.recv(timeout=5))
        assert reply["type"] == "error", (event, reply)
        assert reply["error"]["type"] == "invalid_request_error"
        assert reply["error"]["code"]
        ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
        assert validate(shape, ws.recv(timeout=5))["type"] == "input_audio_buffer.cleared"

    check()
    still_here = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "still here"}],
    }
    ws.send(json.dumps({"type": "conversation.item.create", "item": still_here}))
    assert validate(shape, ws.recv(timeout=5))["type"] in (
        "conversation.item.created",
        "conversation.item.added",
    )

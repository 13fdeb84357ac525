"""The session client's frame decoder never raises: every bad frame becomes a ``MalformedFrame`` notice."""

from __future__ import annotations

import pytest

from voxpipe.realtime.client._notices import MalformedFrame, decode_frame


@pytest.mark.parametrize("shape", ["beta", "ga"])
@pytest.mark.parametrize("depth", [1000, 5000, 100_000])
def test_absurd_nesting_is_a_malformed_frame_not_a_recursion_error(shape: str, depth: int) -> None:
    frame = '{"type": "response.done", "response": ' + "[" * depth + "]" * depth + "}"
    notice = decode_frame(frame, shape)
    if isinstance(notice, MalformedFrame):
        assert notice.error.recoverable and notice.size == len(frame)
    else:  # shallow enough for the JSON reader: still a (loosely built) event, never an exception
        assert notice.type == "response.done"


def test_nesting_deep_inside_a_known_field_is_handled_too() -> None:
    frame = '{"type":"session.updated","event_id":"e","session":' + '{"a":' * 3000 + "1" + "}" * 3001
    result = decode_frame(frame, "beta")
    assert isinstance(result, MalformedFrame) or result.type == "session.updated"

"""The script language of :class:`~voxpipe.testing.FakeRealtimeServer`: steps, matching, the mismatch report.

A script is a flat list of steps; :func:`next_connection` starts the part played on the next connection.
Steps are frozen dataclasses, so a script can be built once and reused, printed and compared.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voxpipe.errors import VoxpipeError

__all__ = [
    "ANY",
    "Drop",
    "Expect",
    "ExpectAnyOrder",
    "ExpectClose",
    "NextConnection",
    "Raw",
    "Reject",
    "ScriptMismatchError",
    "Send",
    "Step",
    "Wait",
    "diff",
    "drop",
    "expect",
    "expect_any_order",
    "expect_close",
    "match",
    "next_connection",
    "raw",
    "reject",
    "send",
    "show",
    "split_connections",
    "wait",
]


class ScriptMismatchError(VoxpipeError, AssertionError):
    """The client did not do what the fake server's script expected; the message lists every difference."""


class _Any:
    """Matches any value, as long as the field is present."""

    def __repr__(self) -> str:
        return "ANY"


#: Use as a field value in :func:`expect` to require a field without caring about its value.
ANY: Any = _Any()


@dataclass(frozen=True, slots=True)
class Expect:
    """Wait for the next client event; it must have ``type`` and contain ``fields`` (nested subset match).

    A field value may be :data:`ANY`, a callable returning ``True`` for a good value, a dict (matched as a
    subset), a list (same length, matched element by element) or a plain value (compared with ``==``).
    """

    type: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self.fields.items())
        return f"expect({self.type!r}{args})"


@dataclass(frozen=True, slots=True)
class ExpectAnyOrder:
    """Wait for one client event per ``Expect``, in any order."""

    expects: tuple[Expect, ...]

    def __str__(self) -> str:
        return f"expect_any_order({', '.join(str(e) for e in self.expects)})"


@dataclass(frozen=True, slots=True)
class Send:
    """Send a server event (a dict; an ``event_id`` is added when missing)."""

    event: Mapping[str, Any]

    def __str__(self) -> str:
        return f"send({self.event.get('type')!r})"


@dataclass(frozen=True, slots=True)
class Raw:
    """Send a frame exactly as given: text (``str``) or binary (``bytes``)."""

    data: str | bytes

    def __str__(self) -> str:
        return f"raw({type(self.data).__name__} of {len(self.data)})"


@dataclass(frozen=True, slots=True)
class Wait:
    """Pause the script for ``seconds``."""

    seconds: float

    def __str__(self) -> str:
        return f"wait({self.seconds})"


@dataclass(frozen=True, slots=True)
class Drop:
    """End the connection: with a close frame if ``code`` is given, else by aborting the TCP connection."""

    code: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        return f"drop(code={self.code!r}, reason={self.reason!r})"


@dataclass(frozen=True, slots=True)
class Reject:
    """Refuse the WebSocket upgrade with an HTTP status; must be the first step of its connection."""

    status: int = 503
    body: str = "rejected by the script"

    def __str__(self) -> str:
        return f"reject({self.status})"


@dataclass(frozen=True, slots=True)
class ExpectClose:
    """Wait until the client closes the connection."""

    def __str__(self) -> str:
        return "expect_close()"


@dataclass(frozen=True, slots=True)
class NextConnection:
    """The steps after this one are played on the next connection."""

    def __str__(self) -> str:
        return "next_connection()"


Step = Expect | ExpectAnyOrder | Send | Raw | Wait | Drop | Reject | ExpectClose | NextConnection


def expect(type: str, **fields: Any) -> Expect:
    """Build an :class:`Expect` step: ``expect("response.create", response={"modalities": ["text"]})``."""
    return Expect(type, fields)


def expect_any_order(*expects: Expect) -> ExpectAnyOrder:
    """Build an :class:`ExpectAnyOrder` step from :func:`expect` steps."""
    return ExpectAnyOrder(tuple(expects))


def send(event: Any = None, /, **fields: Any) -> Send:
    """Build a :class:`Send` step from a dict, a typed event (``to_dict()``), or keyword fields."""
    if event is None:
        return Send(dict(fields))
    if not isinstance(event, Mapping):
        event = event.to_dict()
    return Send({**event, **fields})


def raw(data: str | bytes) -> Raw:
    """Build a :class:`Raw` step (to test how a client copes with broken frames)."""
    return Raw(data)


def wait(seconds: float) -> Wait:
    """Build a :class:`Wait` step."""
    return Wait(seconds)


def drop(code: int | None = None, reason: str = "") -> Drop:
    """Build a :class:`Drop` step: ``drop()`` aborts the TCP link, ``drop(1001, "bye")`` closes cleanly."""
    return Drop(code, reason)


def reject(status: int = 503, body: str = "rejected by the script") -> Reject:
    """Build a :class:`Reject` step (HTTP answer instead of the upgrade)."""
    return Reject(status, body)


def expect_close() -> ExpectClose:
    """Build an :class:`ExpectClose` step."""
    return ExpectClose()


def next_connection() -> NextConnection:
    """Build a :class:`NextConnection` step."""
    return NextConnection()


def split_connections(steps: Sequence[Step]) -> list[list[Step]]:
    """Cut a script into one list of steps per connection, at each :class:`NextConnection`."""
    parts: list[list[Step]] = [[]]
    for step in steps:
        if isinstance(step, NextConnection):
            parts.append([])
        else:
            parts[-1].append(step)
    return parts


def diff(expected: Any, actual: Any, path: str = "") -> list[str]:
    """List how ``actual`` fails to match ``expected`` (empty when it matches); see :class:`Expect`."""
    where = path or "event"
    if expected is ANY:
        return []
    if callable(expected) and not isinstance(expected, type):
        predicate: Callable[[Any], bool] = expected
        return [] if predicate(actual) else [f"{where}: {actual!r} was rejected by {expected!r}"]
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{where}: expected an object, got {actual!r}"]
        problems: list[str] = []
        for key, value in expected.items():
            sub = f"{path}.{key}" if path else key
            if key not in actual:
                problems.append(f"{sub}: missing (expected {value!r})")
            else:
                problems.extend(diff(value, actual[key], sub))
        return problems
    if isinstance(expected, list | tuple):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected {list(expected)!r}, got {actual!r}"]
        found: list[str] = []
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            found.extend(diff(want, got, f"{path}[{index}]"))
        return found
    return [] if expected == actual else [f"{where}: expected {expected!r}, got {actual!r}"]


def match(step: Expect, event: Mapping[str, Any]) -> list[str]:
    """List how ``event`` fails ``step`` (empty when it matches)."""
    if event.get("type") != step.type:
        return [f"type: expected {step.type!r}, got {event.get('type')!r}"]
    return diff(dict(step.fields), event)


def show(event: Any, limit: int = 300) -> str:
    """Render a received event for a report, cut to ``limit`` characters."""
    text = event if isinstance(event, str) else json.dumps(event, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"

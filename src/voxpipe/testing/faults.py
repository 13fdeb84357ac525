"""A fault-injecting WebSocket proxy for realtime sessions: test how a client lives through a bad network.

Put :class:`FaultProxy` between any realtime client and any realtime server (``voxpipe serve``, a fake, a
real endpoint reached through loopback) and give it a :class:`Scenario`: an ordered list of
:class:`Fault` objects. Each fault waits for its trigger (the n-th event of a given type, from the server
or from the client) and then does one thing: drop the link, stall, inject a bad or surprising event,
duplicate an event, replay an answer that is over, send an ``error`` event, say the user started speaking
and never that they stopped (or that they stopped, late), expire the session or close with a code. The
proxy counts what it injected, so a test or a soak run can say exactly what the client went through::

    scenario = Scenario([drop_during_response(), error_event("server_error"), expiry()])
    async with FaultProxy(server.realtime_url, scenario) as proxy:
        service = OpenAIRealtimeBetaLLMService(base_url=proxy.url, ...)
        ...
    assert proxy.injected[FaultKind.DROP] == 1

Faults fire one after the other: only the first fault that has not fired yet is armed, and its count
starts when it is armed. Handshakes pass through (a refused upstream handshake is refused to the client
with the same status), and so does every frame the scenario does not touch. A seeded
:meth:`Scenario.random` picks faults reproducibly for soak runs.

The proxy knows the protocol shape of each connection (beta when the client sends
``OpenAI-Beta: realtime=v1``, else GA), so injected events carry the right names.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

__all__ = [
    "AUDIO_DELTA",
    "FATAL_ERROR_CODES",
    "RECONNECT_CLOSE_CODES",
    "RECOVERABLE_ERROR_CODES",
    "TEXT_DELTA",
    "Fault",
    "FaultKind",
    "FaultProxy",
    "InjectedFault",
    "Scenario",
    "close_with",
    "deep_nesting",
    "drop_after_response",
    "drop_before_response",
    "drop_during_function_call",
    "drop_during_response",
    "drop_while_audio_streams",
    "duplicate",
    "error_event",
    "expiry",
    "lose",
    "malformed_json",
    "replay_answer",
    "speech_stopped",
    "stall",
    "stuck_speech",
    "unknown_event",
    "wrong_fields",
]

logger = logging.getLogger(__name__)

Side = Literal["server", "client"]

AUDIO_DELTA = ("response.audio.delta", "response.output_audio.delta")
"""The answer's audio chunk, beta and GA names."""
TEXT_DELTA = (
    "response.text.delta",
    "response.output_text.delta",
    "response.audio_transcript.delta",
    "response.output_audio_transcript.delta",
)
"""The answer's text or transcript chunk, beta and GA names."""
ANSWER_DELTA = AUDIO_DELTA + TEXT_DELTA

RECOVERABLE_ERROR_CODES = (
    "invalid_event",
    "invalid_value",
    "unknown_parameter",
    "invalid_json",
    "integer_below_min_value",
    "response_cancel_not_active",
    "input_audio_buffer_commit_empty",
    "item_retrieve_invalid_item_id",
    "rate_limit_exceeded",
    "server_error",
)
"""Documented ``error`` codes after which a session goes on (protocol reference, section 8)."""
FATAL_ERROR_CODES = (
    "invalid_api_key",
    "invalid_model",
    "missing_model",
    "beta_api_shape_disabled",
    "insufficient_quota",
    "account_deactivated",
    "billing_hard_limit_reached",
)
"""Documented ``error`` codes that end a session: retrying cannot help."""
RECONNECT_CLOSE_CODES = (1000, 1001, 1011, 1012, 1013)
"""Close codes a client comes back from (1006, a link dying without a close, is :func:`drop`)."""

_HOP_BY_HOP = frozenset(
    {
        "host",
        "upgrade",
        "connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "content-length",
    }
)
_EXPIRY_REASON = "Your session hit the maximum duration of 30 minutes."


class FaultKind(enum.Enum):
    """What a fault does once its trigger is seen."""

    DROP = "drop"
    """The link dies: the client's TCP connection is aborted (no close frame: 1006), upstream closed."""
    STALL = "stall"
    """Server events are held back for a while, then delivered (a congested or frozen link)."""
    UNKNOWN_EVENT = "unknown_event"
    """An event of a type no client knows (servers add events)."""
    MALFORMED_JSON = "malformed_json"
    """A text frame that is not JSON."""
    WRONG_FIELDS = "wrong_fields"
    """A known event with a field of the wrong type or missing."""
    DEEP_NESTING = "deep_nesting"
    """A known event nested thousands of levels deep (parsers that recurse fail on it)."""
    DUPLICATE = "duplicate"
    """The trigger event is delivered twice."""
    REPLAY = "replay"
    """The deltas of the last answer the server sent (on any link) are sent again after the trigger,
    with fresh event ids by default: a server resending an answer after a reconnect."""
    ERROR_EVENT = "error_event"
    """An ``error`` event with a documented code."""
    EXPIRY = "expiry"
    """The session hits its time limit: ``session_expired``, then close 1001."""
    CLOSE = "close"
    """The server closes with a given code."""
    LOSE = "lose"
    """The trigger event is never delivered: put before a ``DROP``, a server that would have sent it
    later (a transcript that comes after the answer started) loses it with the link."""
    SPEECH_STARTED = "speech_started"
    """An ``input_audio_buffer.speech_started`` the server's VAD never follows with a ``speech_stopped``."""
    SPEECH_STOPPED = "speech_stopped"
    """An ``input_audio_buffer.speech_stopped`` of no turn the server started: one that comes late."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One fault of a scenario: when it fires and what it does.

    Build faults with the functions of this module (:func:`drop_during_response`, :func:`stall`, ...),
    which choose sensible triggers; the fields are public for custom ones.

    Attributes:
        kind: what happens.
        on: event types that count towards the trigger (empty: any event).
        side: whose events are counted: the server's (``server``) or the client's (``client``).
        nth: fire on the n-th matching event counted since this fault was armed.
        before: act before the trigger event is forwarded (for a drop: the event is lost).
        label: a name for reports (defaults to the kind and its detail).
        code: the error code (``ERROR_EVENT``) or close code (``CLOSE``).
        seconds: how long a ``STALL`` holds events back.
        variant: which bad event ``WRONG_FIELDS`` sends (an index into its list, taken modulo).
        depth: nesting depth for ``DEEP_NESTING``.
        fresh_ids: ``REPLAY`` gives the copies new event ids (else they keep the originals').
    """

    kind: FaultKind
    on: tuple[str, ...] = ()
    side: Side = "server"
    nth: int = 1
    before: bool = False
    label: str = ""
    code: str | int | None = None
    seconds: float = 0.0
    variant: int = 0
    depth: int = 5000
    fresh_ids: bool = True

    @property
    def name(self) -> str:
        """The label, or the kind and its detail."""
        if self.label:
            return self.label
        detail = self.code if self.code is not None else None
        return f"{self.kind.value}:{detail}" if detail is not None else self.kind.value

    def matches(self, side: Side, event_type: str | None) -> bool:
        """Whether an event of ``event_type`` seen from ``side`` counts towards this fault's trigger."""
        return side == self.side and (not self.on or event_type in self.on)


@dataclass(frozen=True, slots=True)
class InjectedFault:
    """A record of one fault that fired.

    Attributes:
        kind: what was done.
        name: the fault's name.
        connection: 1-based number of the proxied connection it fired on.
        trigger: the type of the event that triggered it.
    """

    kind: FaultKind
    name: str
    connection: int
    trigger: str | None


# -- the documented scenarios ---------------------------------------------------------------------------


def drop_before_response() -> Fault:
    """Drop the link when the server starts an answer, before the client hears of it."""
    return Fault(kind=FaultKind.DROP, on=("response.created",), before=True, label="drop_before_response")


def drop_during_response(nth: int = 2) -> Fault:
    """Drop the link in the middle of an answer, after its ``nth`` audio or text chunk."""
    return Fault(kind=FaultKind.DROP, on=ANSWER_DELTA, nth=nth, label="drop_during_response")


def drop_after_response() -> Fault:
    """Drop the link right after an answer is done."""
    return Fault(kind=FaultKind.DROP, on=("response.done",), label="drop_after_response")


def drop_during_function_call() -> Fault:
    """Drop the link once the model asked for a function call, before its result can be sent."""
    return Fault(
        kind=FaultKind.DROP, on=("response.function_call_arguments.done",), label="drop_during_function_call"
    )


def drop_while_audio_streams(nth: int = 5) -> Fault:
    """Drop the link while the client streams audio: its ``nth`` append is lost with the link."""
    return Fault(
        kind=FaultKind.DROP,
        on=("input_audio_buffer.append",),
        side="client",
        nth=nth,
        before=True,
        label="drop_while_audio_streams",
    )


def stall(seconds: float = 1.0, *, on: Sequence[str] = ANSWER_DELTA) -> Fault:
    """Hold the server's events back for ``seconds`` (from the first event of ``on``), then go on."""
    return Fault(
        kind=FaultKind.STALL, on=tuple(on), seconds=seconds, before=True, label=f"stall:{seconds:g}s"
    )


def stuck_speech(nth: int = 1) -> Fault:
    """The server's VAD says the user started speaking and never says they stopped (a VAD stuck in speech,
    noise it takes for words, a lost ``speech_stopped``): an ``input_audio_buffer.speech_started`` reaches
    the client after its ``nth`` audio append, and nothing ends that turn unless the real VAD does."""
    return Fault(
        kind=FaultKind.SPEECH_STARTED,
        on=("input_audio_buffer.append",),
        side="client",
        nth=nth,
        label="stuck_speech",
    )


def speech_stopped(on: Sequence[str] = ("session.created",)) -> Fault:
    """A ``speech_stopped`` that comes late: the server's VAD ends a turn after the client gave up on it
    (after :func:`stuck_speech`, the default trigger is the next session's ``session.created``: a client
    that rotated under the stuck turn hears it end on the new session), or one it never started. An
    ``input_audio_buffer.speech_stopped`` reaches the client after the first server event of ``on``."""
    return Fault(kind=FaultKind.SPEECH_STOPPED, on=tuple(on), label="speech_stopped")


def lose(on: Sequence[str]) -> Fault:
    """Never deliver the first server event of ``on`` (see ``FaultKind.LOSE``)."""
    return Fault(kind=FaultKind.LOSE, on=tuple(on), before=True, label=f"lose:{on[0]}")


def unknown_event(*, on: Sequence[str] = ("response.created",)) -> Fault:
    """Inject an event of an unknown type after an event of ``on``."""
    return Fault(kind=FaultKind.UNKNOWN_EVENT, on=tuple(on))


def malformed_json(*, on: Sequence[str] = ("response.created",)) -> Fault:
    """Inject a text frame that is not JSON after an event of ``on``."""
    return Fault(kind=FaultKind.MALFORMED_JSON, on=tuple(on))


WRONG_FIELD_VARIANTS = (
    "audio_delta_not_a_string",
    "response_done_without_response",
    "session_updated_not_an_object",
    "item_created_without_item",
    "text_delta_missing",
    "error_without_error",
)
"""The bad events :func:`wrong_fields` can send, by variant index."""


def wrong_fields(variant: int = 0, *, on: Sequence[str] = ("response.created",)) -> Fault:
    """Inject a known event with a wrong or missing field (see :data:`WRONG_FIELD_VARIANTS`)."""
    name = WRONG_FIELD_VARIANTS[variant % len(WRONG_FIELD_VARIANTS)]
    return Fault(kind=FaultKind.WRONG_FIELDS, on=tuple(on), variant=variant, label=f"wrong_fields:{name}")


def deep_nesting(depth: int = 5000, *, on: Sequence[str] = ("response.created",)) -> Fault:
    """Inject a known event whose payload is nested ``depth`` levels deep."""
    return Fault(kind=FaultKind.DEEP_NESTING, on=tuple(on), depth=depth, label=f"deep_nesting:{depth}")


def duplicate(on: Sequence[str] = ("conversation.item.created", "conversation.item.added")) -> Fault:
    """Deliver the first event of ``on`` twice."""
    return Fault(kind=FaultKind.DUPLICATE, on=tuple(on), label=f"duplicate:{on[0]}")


def replay_answer(*, on: Sequence[str] = ("session.created",), fresh_ids: bool = True) -> Fault:
    """Send the last answer's audio and text deltas again after an event of ``on``.

    By default at the next ``session.created``: put it after a drop, and the new session gets the answer
    the old one was sending, as a server that resends after a reconnect would (``fresh_ids``: with new
    event ids, so only the client's memory of what is over can tell them from new content).
    """
    label = "replay_answer" if fresh_ids else "replay_answer:same_ids"
    return Fault(kind=FaultKind.REPLAY, on=tuple(on), fresh_ids=fresh_ids, label=label)


def error_event(code: str, *, on: Sequence[str] = ("response.created",)) -> Fault:
    """Inject an ``error`` event with ``code`` after an event of ``on``."""
    return Fault(kind=FaultKind.ERROR_EVENT, on=tuple(on), code=code)


def expiry(*, on: Sequence[str] = ("response.done",)) -> Fault:
    """Expire the session after an event of ``on``: ``session_expired``, then close 1001."""
    return Fault(kind=FaultKind.EXPIRY, on=tuple(on))


def close_with(code: int, *, on: Sequence[str] = ("response.done",), before: bool = False) -> Fault:
    """Close the client's connection with ``code`` at an event of ``on``."""
    return Fault(kind=FaultKind.CLOSE, on=tuple(on), code=code, before=before)


@dataclass
class Scenario:
    """An ordered list of faults; each is armed once the one before it fired.

    Args:
        faults: the faults, in the order they fire.
    """

    faults: list[Fault] = field(default_factory=list)

    @classmethod
    def random(cls, seed: int, count: int, kinds: Iterable[str] | None = None) -> Scenario:
        """A reproducible scenario of ``count`` recoverable faults chosen with ``random.Random(seed)``.

        Args:
            seed: the seed; the same seed gives the same scenario.
            count: how many faults.
            kinds: names from :data:`RANDOM_FAULTS` to choose from (all of them by default).
        """
        rng = random.Random(seed)
        names = sorted(kinds) if kinds is not None else sorted(RANDOM_FAULTS)
        return cls([RANDOM_FAULTS[rng.choice(names)](rng) for _ in range(count)])


RANDOM_FAULTS = {
    "drop_before_response": lambda rng: drop_before_response(),
    "drop_during_response": lambda rng: drop_during_response(rng.randint(1, 6)),
    "drop_after_response": lambda rng: drop_after_response(),
    "drop_while_audio_streams": lambda rng: drop_while_audio_streams(rng.randint(2, 20)),
    "stall": lambda rng: stall(round(rng.uniform(0.1, 1.0), 2)),
    "unknown_event": lambda rng: unknown_event(),
    "malformed_json": lambda rng: malformed_json(),
    "wrong_fields": lambda rng: wrong_fields(rng.randrange(len(WRONG_FIELD_VARIANTS))),
    "deep_nesting": lambda rng: deep_nesting(),
    "duplicate": lambda rng: duplicate(),
    "replay_answer": lambda rng: replay_answer(on=("response.done",), fresh_ids=rng.random() < 0.5),
    "error_event": lambda rng: error_event(rng.choice(RECOVERABLE_ERROR_CODES)),
    "expiry": lambda rng: expiry(),
    "close": lambda rng: close_with(rng.choice(RECONNECT_CLOSE_CODES)),
}
"""Faults :meth:`Scenario.random` picks from: every kind a client must survive without ending (but
``LOSE``, which stands for a late event only when a drop follows it, ``SPEECH_STARTED``, a turn left
open that only near-silent audio and a session age make a client act on, and ``SPEECH_STOPPED``, the late
end of such a turn)."""


# -- the proxy --------------------------------------------------------------------------------------------


class _Link:
    """One proxied connection: the client's socket, the upstream socket, and its protocol shape."""

    def __init__(self, number: int, upstream: ClientConnection, shape: str) -> None:
        self.number = number
        self.upstream = upstream
        self.shape = shape
        self.client: ServerConnection | None = None
        self.cut = asyncio.Event()


class FaultProxy:
    """A loopback WebSocket proxy that injects the faults of a scenario into realtime sessions.

    Args:
        upstream_url: the realtime endpoint to forward to (``ws://127.0.0.1:8000/v1/realtime``); the
            client's own path and query replace this URL's, so one proxy serves any endpoint.
        scenario: the faults to inject, in order (none: a transparent proxy).
        host: the interface to listen on.

    Attributes:
        injected: how many faults of each kind fired.
        history: every fault that fired, in order.
        connections: client connections accepted so far.
    """

    def __init__(
        self, upstream_url: str, scenario: Scenario | None = None, *, host: str = "127.0.0.1"
    ) -> None:
        self._upstream = upstream_url.split("?", 1)[0]
        self._upstream_root = self._upstream.split("/", 3)[:3]
        self._pending = list((scenario or Scenario()).faults)
        self._armed_count = 0
        self._host = host
        self._server: Server | None = None
        self._links: dict[ServerConnection, _Link] = {}
        self._answer_deltas: list[str] = []  # the last answer's deltas, kept while a replay is to come
        self.injected: Counter[FaultKind] = Counter()
        self.history: list[InjectedFault] = []
        self.connections = 0

    @property
    def url(self) -> str:
        """The proxy's realtime URL (same path as the upstream's)."""
        if self._server is None:
            raise RuntimeError("FaultProxy.url is known once the proxy is started (use 'async with')")
        port = next(iter(self._server.sockets)).getsockname()[1]
        path = "/" + self._upstream.split("/", 3)[3] if self._upstream.count("/") >= 3 else "/"
        return f"ws://{self._host}:{port}{path}"

    @property
    def remaining(self) -> list[Fault]:
        """Faults that have not fired yet (the first one is armed)."""
        return list(self._pending)

    async def __aenter__(self) -> Self:
        self._server = await serve(
            self._handle,
            self._host,
            0,
            process_request=self._open_upstream,
            select_subprotocol=self._select_subprotocol,
            max_size=None,
            compression=None,
            ping_interval=None,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop listening and close every proxied connection."""
        server, self._server = self._server, None
        if server is None:
            return
        for link in list(self._links.values()):
            await link.upstream.close()
        server.close()
        await server.wait_closed()

    # -- handshake ---------------------------------------------------------------------------------------

    async def _open_upstream(self, connection: ServerConnection, request: Request) -> Response | None:
        """Open the upstream connection during the client's handshake; refuse it the way upstream did."""
        headers = [(k, v) for k, v in request.headers.raw_items() if k.lower() not in _HOP_BY_HOP]
        offered = [
            Subprotocol(p.strip())
            for value in request.headers.get_all("Sec-WebSocket-Protocol")
            for p in value.split(",")
            if p.strip()
        ]
        url = "/".join(self._upstream_root) + request.path
        try:
            upstream = await connect(
                url,
                additional_headers=headers,
                subprotocols=offered or None,
                max_size=None,
                compression=None,
                ping_interval=None,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            return connection.respond(status, exc.response.body.decode(errors="replace") or "refused\n")
        except (OSError, WebSocketException, TimeoutError):
            return connection.respond(502, "the upstream realtime server cannot be reached\n")
        beta = "realtime=v1" in (request.headers.get("OpenAI-Beta") or "") or any(
            p.startswith("openai-beta.realtime-v1") for p in offered
        )
        self.connections += 1
        self._links[connection] = _Link(self.connections, upstream, "beta" if beta else "ga")
        return None

    def _select_subprotocol(
        self, connection: ServerConnection, subprotocols: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        link = self._links.get(connection)
        return link.upstream.subprotocol if link is not None else None

    # -- pumping -----------------------------------------------------------------------------------------

    async def _handle(self, client: ServerConnection) -> None:
        link = self._links[client]
        link.client = client
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._pump(link, "server"), name=f"faults.link{link.number}.down")
                tg.create_task(self._pump(link, "client"), name=f"faults.link{link.number}.up")
        finally:
            del self._links[client]
            await link.upstream.close()

    async def _pump(self, link: _Link, side: Side) -> None:
        """Forward one direction of a link, consulting the armed fault on every message."""
        assert link.client is not None
        source: ClientConnection | ServerConnection = link.upstream if side == "server" else link.client
        sink: ClientConnection | ServerConnection = link.client if side == "server" else link.upstream
        try:
            async for message in source:
                if side == "server":
                    self._record(message)
                fault = self._trigger(side, message)
                if fault is None:
                    await sink.send(message)
                    continue
                kept_open = await self._fire(fault, link, sink, message)
                if not kept_open:
                    break
        except ConnectionClosed:
            pass
        finally:
            await self._cut(link, source)

    def _record(self, message: str | bytes) -> None:
        """Keep the deltas of the answer the server is sending, while a ``REPLAY`` is still to fire."""
        if not any(fault.kind is FaultKind.REPLAY for fault in self._pending):
            return
        kind = _type_of(message)
        if kind == "response.created":
            self._answer_deltas = []
        elif kind in ANSWER_DELTA and isinstance(message, str):
            self._answer_deltas.append(message)

    def _trigger(self, side: Side, message: str | bytes) -> Fault | None:
        """Count ``message`` towards the armed fault; return the fault when this message fires it."""
        if not self._pending:
            return None
        fault = self._pending[0]
        if not fault.matches(side, _type_of(message)):
            return None
        self._armed_count += 1
        if self._armed_count < fault.nth:
            return None
        self._pending.pop(0)
        self._armed_count = 0
        return fault

    async def _fire(
        self, fault: Fault, link: _Link, sink: ClientConnection | ServerConnection, message: str | bytes
    ) -> bool:
        """Do what ``fault`` says around ``message``; return whether the link stays open."""
        self.injected[fault.kind] += 1
        self.history.append(InjectedFault(fault.kind, fault.name, link.number, _type_of(message)))
        logger.info("fault proxy: link %d: %s at %s", link.number, fault.name, _type_of(message))
        assert link.client is not None
        kind = fault.kind
        if kind is FaultKind.DROP:
            if not fault.before:
                await sink.send(message)
            link.client.transport.abort()
            return False
        if kind in (FaultKind.EXPIRY, FaultKind.CLOSE):
            if not fault.before:
                await sink.send(message)
            if kind is FaultKind.EXPIRY:
                error = _error("session_expired", _EXPIRY_REASON, "invalid_request_error")
                await link.client.send(error)
                await link.client.close(1001, _EXPIRY_REASON)
            else:
                await link.client.close(int(fault.code or 1000), f"fault proxy close {fault.code}")
            return False
        if kind is FaultKind.LOSE:
            return True
        if kind is FaultKind.STALL:
            await asyncio.sleep(fault.seconds)
            await sink.send(message)
            return True
        if kind is FaultKind.DUPLICATE:
            await sink.send(message)
            await sink.send(message)
            return True
        if kind is FaultKind.REPLAY:
            if not fault.before:
                await sink.send(message)
            for number, delta in enumerate(self._answer_deltas):
                copy = _with_event_id(delta, f"event_replay_{number}") if fault.fresh_ids else delta
                await link.client.send(copy)
            if fault.before:
                await sink.send(message)
            return True
        injected = _injection(fault, link.shape, message)
        if fault.before:
            await link.client.send(injected)
        await sink.send(message)
        if not fault.before:
            await link.client.send(injected)
        return True

    async def _cut(self, link: _Link, ended: ClientConnection | ServerConnection) -> None:
        """One side ended: end the other with the same close code and reason, so both see one story."""
        if link.cut.is_set():
            return
        link.cut.set()
        assert link.client is not None
        other = link.client if ended is link.upstream else link.upstream
        code = ended.close_code
        if code is None or code in (1005, 1006, 1015):  # not sendable: the peer's link died
            if other is link.client:
                link.client.transport.abort()
            await other.close()
            return
        await other.close(code, ended.close_reason or "")


# -- what gets injected -----------------------------------------------------------------------------------


def _type_of(message: str | bytes) -> str | None:
    """The ``type`` of a JSON event (``None`` for anything else)."""
    if isinstance(message, bytes):
        return None
    try:
        data = json.loads(message)
    except (ValueError, RecursionError):
        return None
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def _context(message: str | bytes) -> dict[str, Any]:
    """Ids of the event that triggered an injection, so injected events look like they belong."""
    try:
        data = json.loads(message)
    except (ValueError, RecursionError, TypeError):
        return {}
    if not isinstance(data, dict):
        return {}
    response = data.get("response")
    if not isinstance(response, dict):
        response = {}
    return {
        "response_id": data.get("response_id") or response.get("id") or "resp_fault",
        "item_id": data.get("item_id") or "item_fault",
    }


def _with_event_id(message: str, event_id: str) -> str:
    """A JSON event with its ``event_id`` replaced."""
    data = json.loads(message)
    data["event_id"] = event_id
    return json.dumps(data)


def _error(code: str, message: str, type_: str) -> str:
    body = {"type": type_, "code": code, "message": message, "param": None, "event_id": None}
    return json.dumps({"type": "error", "event_id": "event_fault", "error": body})


def _injection(fault: Fault, shape: str, trigger: str | bytes) -> str:
    """The frame an injecting fault sends."""
    ids = _context(trigger)
    audio = "response.audio.delta" if shape == "beta" else "response.output_audio.delta"
    text = "response.text.delta" if shape == "beta" else "response.output_text.delta"
    created = "conversation.item.created" if shape == "beta" else "conversation.item.added"
    common = {
        "event_id": "event_fault",
        "response_id": ids.get("response_id"),
        "item_id": ids.get("item_id"),
        "output_index": 0,
        "content_index": 0,
    }
    if fault.kind is FaultKind.UNKNOWN_EVENT:
        return json.dumps(
            {"type": "voxpipe_fault.unheard_of", "event_id": "event_fault", "payload": {"x": 1}}
        )
    if fault.kind is FaultKind.MALFORMED_JSON:
        return '{"type": "response.audio.delta", "delta": "AAAA'
    if fault.kind is FaultKind.DEEP_NESTING:
        depth = fault.depth
        return (
            '{"type": "response.done", "event_id": "event_fault", "response": '
            + "[" * depth
            + "]" * depth
            + "}"
        )
    if fault.kind is FaultKind.SPEECH_STARTED:  # the same in both shapes
        return json.dumps(
            {
                "type": "input_audio_buffer.speech_started",
                "event_id": "event_fault_speech_started",
                "audio_start_ms": 0,
                "item_id": "item_fault",
            }
        )
    if fault.kind is FaultKind.SPEECH_STOPPED:  # the same in both shapes
        return json.dumps(
            {
                "type": "input_audio_buffer.speech_stopped",
                "event_id": "event_fault_speech_stopped",
                "audio_end_ms": 0,
                "item_id": "item_fault",
            }
        )
    if fault.kind is FaultKind.ERROR_EVENT:
        code = str(fault.code)
        type_ = "server_error" if code == "server_error" else "invalid_request_error"
        return _error(code, f"fault proxy: injected {code}", type_)
    variants: tuple[dict[str, Any], ...] = (
        {"type": audio, **common, "delta": 12345},
        {"type": "response.done", "event_id": "event_fault", "response": None},
        {"type": "session.updated", "event_id": "event_fault", "session": "not a session"},
        {"type": created, "event_id": "event_fault", "previous_item_id": None},
        {"type": text, **common},
        {"type": "error", "event_id": "event_fault", "error": None},
    )
    return json.dumps(variants[fault.variant % len(variants)])

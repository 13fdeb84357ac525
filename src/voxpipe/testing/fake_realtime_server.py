"""A scripted OpenAI-Realtime-shaped WebSocket server on loopback, for testing clients and bots.

Usage::

    script = [
        expect("session.update", session={"voice": "alloy"}),
        send({"type": "session.updated", "session": {}}),
        expect("response.create"),
        drop(),                       # abort the TCP link
        next_connection(),            # the client reconnects...
        expect("session.update"),     # ...and replays its config
    ]
    async with FakeRealtimeServer(script) as server:
        ...   # point the client at server.url
    # leaving the block checks the script: ScriptMismatchError lists what differed

The server greets each connection with ``session.created`` (``greet=False`` to script it yourself), records
every handshake (path, query, headers, subprotocols) and every client event per connection, and fails the
test on an unexpected client event, a mismatch or a step never reached.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from voxpipe.realtime.client import RedactingLogger
from voxpipe.testing import _fake_events as fake_events
from voxpipe.testing._fake_script import (
    Drop,
    Expect,
    ExpectAnyOrder,
    ExpectClose,
    Raw,
    Reject,
    ScriptMismatchError,
    Send,
    Step,
    Wait,
    match,
    show,
    split_connections,
)
from voxpipe.utils.endpoints import Endpoint

__all__ = ["FakeRealtimeServer", "Handshake", "RecordedConnection"]

logger = logging.getLogger(__name__)
_wire_logger = logging.getLogger("voxpipe.testing.fake_server.wire")


@dataclass(frozen=True, slots=True)
class Handshake:
    """What one client sent to open its WebSocket.

    Attributes:
        path: the request path without the query, e.g. ``/v1/realtime``.
        query: query parameters (last value wins).
        headers: request headers, names in lower case.
        subprotocols: subprotocols the client offered, in order.
    """

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    subprotocols: list[str]


@dataclass(slots=True)
class RecordedConnection:
    """One connection as the fake server saw it.

    Attributes:
        number: 1-based order of arrival.
        handshake: the opening request.
        received: client events in arrival order (dicts; non-JSON text kept as ``str``, binary as ``bytes``).
        steps: the script part for this connection.
        position: index of the next step to play.
        done: every step was played.
        closed: the socket is closed (no further step can be played).
        session: the session as the fake server holds it (greeting merged with each ``session.update``).
    """

    number: int
    handshake: Handshake
    received: list[Any] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    position: int = 0
    done: bool = False
    closed: bool = False
    session: dict[str, Any] = field(default_factory=dict)


class FakeRealtimeServer:
    """A WebSocket server on 127.0.0.1 (free port) that plays a script per connection.

    Args:
        script: the steps (see :mod:`voxpipe.testing._fake_script`); :func:`next_connection` separates
            the parts played on successive connections.
        shape: ``"beta"`` or ``"ga"``: the shape of the greeting and of ``session.updated``.
        greet: send ``session.created`` as soon as a connection opens (as real servers do).
        auto_session_updated: answer every ``session.update`` with a ``session.updated`` carrying the merged
            session; such updates need no ``expect`` step (one still matches them if it comes next).
        ignore: client event types never matched nor reported (e.g. ``"input_audio_buffer.append"``).
        subprotocol: the subprotocol chosen when the client offers it (``None``: never choose one).
        expect_timeout: seconds an ``expect`` waits for a client event before the script is failed.
    """

    def __init__(
        self,
        script: Iterable[Step] = (),
        *,
        shape: str = "beta",
        greet: bool = True,
        auto_session_updated: bool = False,
        ignore: Iterable[str] = (),
        subprotocol: str | None = "realtime",
        expect_timeout: float = 5.0,
    ) -> None:
        self._parts = split_connections(list(script))
        self._shape = shape
        self._greet = greet
        self._auto_session_updated = auto_session_updated
        self._ignore = frozenset(ignore)
        self._subprotocol = subprotocol
        self._expect_timeout = expect_timeout
        self._server: Server | None = None
        self._by_socket: dict[ServerConnection, RecordedConnection] = {}
        self._handlers: set[asyncio.Task[Any]] = set()
        self._problems: list[str] = []
        self._reported = False
        self._progress = asyncio.Event()
        self.connections: list[RecordedConnection] = []

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._server is None:
            raise ScriptMismatchError("FakeRealtimeServer.port read before start()")
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>/v1/realtime``, the URL to give a client."""
        return Endpoint("127.0.0.1", self.port).realtime

    def received(self, type: str | None = None) -> list[Any]:
        """Every client event received, across connections, optionally only those of ``type``."""
        events = [event for conn in self.connections for event in conn.received]
        if type is None:
            return events
        return [e for e in events if isinstance(e, Mapping) and e.get("type") == type]

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None and not self._reported:
                await self.assert_done()
        finally:
            await self.stop()

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            logger=RedactingLogger(_wire_logger),
            max_size=None,
        )

    async def stop(self) -> None:
        """Close every connection (code 1001), stop the script tasks, stop listening."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)
        await asyncio.wait_for(server.wait_closed(), timeout=5)

    async def assert_done(self, timeout: float = 5.0) -> None:
        """Wait until every scripted connection played to its end, then fail on any difference.

        Args:
            timeout: seconds to wait for the client to go through the script.

        Raises:
            ScriptMismatchError: a mismatch, an unexpected event or connection, or steps never reached.
        """
        try:
            async with asyncio.timeout(timeout):
                while not self._finished():
                    self._progress.clear()
                    await self._progress.wait()
        except TimeoutError:
            pass
        report = list(self._problems)
        for number, steps in enumerate(self._parts, start=1):
            conn = self.connections[number - 1] if number <= len(self.connections) else None
            if conn is None and steps:
                report.append(f"connection {number} never opened; unused steps: {', '.join(map(str, steps))}")
            elif conn is not None and not conn.done:
                unused = ", ".join(str(s) for s in conn.steps[conn.position :])
                report.append(f"connection {number}: steps never reached: {unused}")
        if report and not self._reported:
            self._reported = True  # report once: a context exit after a caught report stays quiet
            raise ScriptMismatchError("the client did not follow the script:\n  " + "\n  ".join(report))

    def _finished(self) -> bool:
        if self._problems:
            return True
        if len(self.connections) < len([p for p in self._parts if p]):
            return False
        return all(conn.done or conn.closed for conn in self.connections)

    def _fail(self, problem: str) -> None:
        logger.warning("fake realtime server: %s", problem)
        self._problems.append(problem)
        self._progress.set()

    def _select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        if self._subprotocol is not None and self._subprotocol in offered:
            return Subprotocol(self._subprotocol)
        return None

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Record the handshake; answer a scripted ``reject`` instead of upgrading."""
        number = len(self.connections) + 1
        split = urlsplit(request.path)
        handshake = Handshake(
            path=split.path,
            query={k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()},
            headers=_lower_headers(request.headers),
            subprotocols=[
                p.strip()
                for value in request.headers.get_all("Sec-WebSocket-Protocol")
                for p in value.split(",")
            ],
        )
        steps = self._parts[number - 1] if number <= len(self._parts) else []
        conn = RecordedConnection(number=number, handshake=handshake, steps=list(steps))
        self.connections.append(conn)
        self._progress.set()
        if number > len(self._parts) or (steps and isinstance(steps[0], Reject)):
            conn.closed = True  # answered over HTTP: no socket, no handler
        if number > len(self._parts):
            self._fail(f"connection {number} was not in the script (it has {len(self._parts)})")
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "no script for this connection\n")
        if steps and isinstance(steps[0], Reject):
            conn.position, conn.done = 1, len(steps) == 1
            if len(steps) > 1:
                self._fail(f"connection {number}: steps after reject() can never run")
            return connection.respond(HTTPStatus(steps[0].status), steps[0].body + "\n")
        self._by_socket[connection] = conn
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        conn = self._by_socket.pop(ws)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._play(ws, conn)
        except ConnectionClosed:
            pass  # steps not reached stay pending: assert_done() reports them
        finally:
            conn.closed = True
            self._handlers.discard(task)
            self._progress.set()

    async def _play(self, ws: ServerConnection, conn: RecordedConnection) -> None:
        conn.session = fake_events.session_created(self._shape, conn.handshake.query.get("model"))["session"]
        if self._greet:
            created = fake_events.session_created(self._shape, conn.handshake.query.get("model"))
            created["session"] = conn.session
            await ws.send(json.dumps(created))
        while conn.position < len(conn.steps):
            step = conn.steps[conn.position]
            if not await self._step(ws, conn, step):
                return
            conn.position += 1
            self._progress.set()
            if isinstance(step, Drop):
                break
        conn.done = conn.position == len(conn.steps)
        self._progress.set()
        while True:  # after the script: anything the client sends is a surprise
            event = await self._next_event(ws, conn, wanted=None)
            self._fail(f"connection {conn.number}: unexpected client event after the script: {show(event)}")

    async def _step(self, ws: ServerConnection, conn: RecordedConnection, step: Step) -> bool:
        """Play one step; return False when the script failed and must stop."""
        where = f"connection {conn.number}, step {conn.position + 1} {step}"
        if isinstance(step, Send):
            event = dict(step.event)
            event.setdefault("event_id", fake_events.new_server_event_id())
            await ws.send(json.dumps(event))
        elif isinstance(step, Raw):
            await ws.send(step.data)
        elif isinstance(step, Wait):
            await asyncio.sleep(step.seconds)
        elif isinstance(step, Drop):
            if step.code is None:
                ws.transport.abort()
            else:
                await ws.close(step.code, step.reason)
        elif isinstance(step, Expect | ExpectAnyOrder):
            return await self._expect(ws, conn, step, where)
        elif isinstance(step, ExpectClose):
            try:
                while True:
                    event = await self._next_event(ws, conn, wanted=None)
                    self._fail(f"{where}: unexpected client event before the close: {show(event)}")
            except ConnectionClosed:
                return True
        else:
            self._fail(f"{where}: this step cannot be played here")
            return False
        return True

    async def _expect(
        self, ws: ServerConnection, conn: RecordedConnection, step: Expect | ExpectAnyOrder, where: str
    ) -> bool:
        waiting = list(step.expects) if isinstance(step, ExpectAnyOrder) else [step]
        while waiting:
            try:
                async with asyncio.timeout(self._expect_timeout):
                    event = await self._next_event(ws, conn, wanted={e.type for e in waiting})
            except TimeoutError:
                self._fail(f"{where}: nothing came within {self._expect_timeout} s")
                return False
            results = [(candidate, match(candidate, event)) for candidate in waiting]
            hit = next((candidate for candidate, problems in results if not problems), None)
            if hit is None:
                details = "\n      ".join(f"{c}: {'; '.join(p)}" for c, p in results)
                self._fail(f"{where}\n    got: {show(event)}\n    differences:\n      {details}")
                return False
            waiting.remove(hit)
        return True

    async def _next_event(
        self, ws: ServerConnection, conn: RecordedConnection, wanted: set[str] | None
    ) -> Any:
        """Return the next client event that the script must look at, answering auto-handled ones."""
        while True:
            message = await ws.recv()
            event: Any = message
            if isinstance(message, str):
                try:
                    event = json.loads(message)
                except ValueError:
                    event = message
            conn.received.append(event)
            kind = event.get("type") if isinstance(event, dict) else None
            if kind in self._ignore:
                continue
            if kind == "session.update" and self._auto_session_updated:
                conn.session = fake_events.merge_session(conn.session, event.get("session") or {})
                await ws.send(json.dumps(fake_events.session_updated(conn.session)))
                if wanted is None or kind not in wanted:
                    continue
            return event


def _lower_headers(headers: Headers) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in headers.raw_items():
        key = name.lower()
        result[key] = f"{result[key]}, {value}" if key in result else value
    return result

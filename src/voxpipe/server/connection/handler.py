"""One realtime session per WebSocket: reads client events, answers them, owns every task it starts.

``ConnectionHandler.run`` is the whole life of a connection: it sends ``session.created``, then reads
events until the client leaves or the session expires. Each event is parsed strictly with the protocol
models and handed to its handler through a table keyed by ``type``; a handler's ``ProtocolError`` (and
any parse error) becomes one ``error`` event and the session goes on. Everything sent goes through one
queue drained by one writer task, so events leave in the order they were made.

Tasks: the writer, the expiry timer, responses, transcriptions: all live in one ``asyncio.TaskGroup``
owned by ``run``; when the reader stops they are cancelled and awaited before ``run`` returns.

Back-pressure (``outbox``): the reader takes the next client event only when the outgoing queue has room,
responses wait for room before generating more, and a client that does not read is disconnected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from voxpipe.realtime import (
    EventBase,
    EventParseError,
    EventValidationError,
    ProtocolModel,
    ServerEventBase,
    Shape,
    new_event_id,
    parse_client_event,
    serialize_event,
)
from voxpipe.realtime.dialect import EventKind
from voxpipe.server.config import ServerConfig
from voxpipe.server.connection.audio_input import AudioInput
from voxpipe.server.connection.conversation import Conversation, item_from_model
from voxpipe.server.connection.errors import ProtocolError
from voxpipe.server.connection.observer import NO_OBSERVER, SessionObserver
from voxpipe.server.connection.outbox import SLOW_CLIENT_CODE, CloseRequest, Outbox
from voxpipe.server.connection.prefill import Prefiller
from voxpipe.server.connection.response_request import response_request
from voxpipe.server.connection.response_source import EngineSource, ResponseSource, llm_request
from voxpipe.server.connection.responses import ResponseRun
from voxpipe.server.connection.session_update import (
    apply_update,
    default_session,
    derive_settings,
)
from voxpipe.server.connection.settings import ItemReference, ResponseRequest, SessionSettings
from voxpipe.server.connection.speculation import Speculator
from voxpipe.server.connection.state import ConnectionState, check_move
from voxpipe.server.connection.wire import WireRenderer, wire_renderer
from voxpipe.server.engines.registry import Engines
from voxpipe.server.engines.types import LLMMessage
from voxpipe.server.input_limits import load_event

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.realtime import beta, ga

    SessionUpdate = beta.SessionUpdateEvent | ga.SessionUpdateEvent
    ItemCreate = beta.ConversationItemCreateEvent | ga.ConversationItemCreateEvent
    ResponseCreate = beta.ResponseCreateEvent | ga.ResponseCreateEvent

__all__ = ["CloseRequest", "ConnectionHandler", "Transport"]

logger = logging.getLogger(__name__)

_CLOSE_GRACE_S = 1.0
"""How long a close the server decides on waits for the events queued before it to be taken."""


class Transport(Protocol):
    """The WebSocket as the session sees it (the app adapts Starlette's)."""

    async def receive(self) -> str | bytes | None:
        """The next message, or None once the client is gone."""

    async def send_text(self, text: str) -> None:
        """Send one text frame."""

    async def close(self, code: int, reason: str) -> None:
        """Close the connection."""


class ConnectionHandler:
    """See the module docstring.

    Args:
        shape: ``"beta"`` or ``"ga"``.
        engines: the process's engines (shared by every session).
        config: server settings and limits.
        model: the model named in the URL.
        initial_update: a session config to apply before ``session.created`` (from an ephemeral key).
        observer: told of every parsed client event and every queued server event (metrics).
    """

    def __init__(
        self,
        *,
        shape: Shape,
        engines: Engines,
        config: ServerConfig,
        model: str,
        initial_update: ProtocolModel | None = None,
        observer: SessionObserver = NO_OBSERVER,
    ) -> None:
        self.shape_name: Shape = shape
        self.wire: WireRenderer = wire_renderer(shape)
        self.engines = engines
        self._config = config
        self._limits = config.limits
        self.id = new_event_id("sess_")
        self.conversation = Conversation(config.limits.max_items)
        self._started = time.time()
        self._session = default_session(
            self.wire.dialect,
            session_id=self.id,
            model=model,
            expires_at=int(self._started + config.limits.max_session_s),
            instructions=config.instructions,
        )
        self.settings: SessionSettings = derive_settings(self.wire.dialect, self._session)
        if initial_update is not None:
            self._session, self.settings = apply_update(self.wire.dialect, self._session, initial_update)
        self._state = ConnectionState.OPEN
        self._observer = observer
        self._outbox = Outbox(
            max_bytes=config.limits.max_outgoing_bytes,
            send_timeout_s=config.limits.send_timeout_s,
            owner=f"session {self.id}",
        )
        self._group: asyncio.TaskGroup | None = None
        self._children: set[asyncio.Task[None]] = set()
        self._active: ResponseRun | None = None
        self._runs: dict[str, ResponseRun] = {}
        self._speculator = Speculator(engines, self.spawn, config.speculation.max_attempts)
        self._prefiller = Prefiller(engines, self.spawn)
        self.audio = AudioInput(
            self, config.limits, config.speculation.pause_ms, config.speculation.prefill_every_ms
        )
        self._handlers: dict[str, Callable[[Any], Awaitable[None]]] = {
            "session.update": self._on_session_update,
            "input_audio_buffer.append": self._on_append,
            "input_audio_buffer.commit": self._on_commit,
            "input_audio_buffer.clear": self._on_clear,
            "conversation.item.create": self._on_item_create,
            "conversation.item.retrieve": self._on_item_retrieve,
            "conversation.item.truncate": self._on_item_truncate,
            "conversation.item.delete": self._on_item_delete,
            "response.create": self._on_response_create,
            "response.cancel": self._on_response_cancel,
            "output_audio_buffer.clear": self._on_webrtc_only,
            "transcription_session.update": self._on_transcription_update,
        }

    def __repr__(self) -> str:
        return f"ConnectionHandler({self.id}, {self.shape_name}, {self._state.value})"

    @property
    def queued_bytes(self) -> int:
        """Event text waiting for the client to take it (bounded by ``ServerLimits.max_outgoing_bytes``)."""
        return self._outbox.queued_bytes

    def _set_state(self, new: ConnectionState) -> None:
        check_move(f"session {self.id}", self._state, new)
        self._state = new

    # -- host interface used by AudioInput and ResponseRun ------------------------------------------------

    def send(self, event: ServerEventBase) -> None:
        """Queue an event for the client (dropped once the session is closing)."""
        if self._state is ConnectionState.OPEN:
            if not self._outbox.put(serialize_event(event)):
                self._overflowed()
                return
            self._observer.queued(event)

    def _overflowed(self) -> None:
        logger.warning("session %s: outgoing queue full, the client is not reading: closing", self.id)
        for run in list(self._runs.values()):
            run.cancel("client_cancelled")
        request = CloseRequest(SLOW_CLIENT_CODE, "outgoing queue full: client is not reading")
        self._outbox.close(request, grace_s=0)

    async def outgoing_room(self) -> None:
        """Wait until the client has taken enough of what was sent (back-pressure on producers)."""
        await self._outbox.room()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Start a task owned by this session's task group (cancelled and awaited when it ends)."""
        if self._group is None:
            coro.close()
            return
        task = self._group.create_task(coro, name=f"{self.id} {name}")
        self._children.add(task)
        task.add_done_callback(self._children.discard)

    def speech_started(self) -> None:
        """Barge-in: cancel the default-conversation response, if one is running."""
        if self._active is not None:
            self._active.cancel("turn_detected")

    def turn_ended(self) -> None:
        """Turn detection wants a response for the turn just committed (prepared during its pause?)."""
        self._prefiller.stop()
        fallback = EngineSource(self.engines, self.engines.fair_share)
        self._start_response(
            ResponseRequest(settings=self.settings), self._speculator.source_for_turn(fallback)
        )

    def turn_words(self, words: str) -> None:
        """The user is speaking and has said ``words`` so far: the LLM may read them ahead (``prefill``),
        unless a response is still running (the conversation the answer reads may still change)."""
        if self._active is None and self._state is ConnectionState.OPEN:
            self._prefiller.update(self.settings, list(self.conversation.items()), words)

    def turn_paused(self, transcript: Callable[[], Awaitable[str | None]]) -> None:
        """Prepare the answer during the pause, unless a response is still running (it may change the
        conversation the answer depends on)."""
        self._prefiller.stop()  # the pause's transcription and the speculation need the cores now
        if self._active is None and self._state is ConnectionState.OPEN:
            self._speculator.start(self.settings, list(self.conversation.items()), transcript)

    async def judge_turn(self, words: str) -> float | None:
        """Semantic VAD asks whether ``words`` end the user's turn: the LLM reads them in the context a
        response would have (and, when the turn gets one, the rest of that response's prompt)."""
        request = llm_request(
            self.settings, [*await self.conversation.llm_items(), LLMMessage("user", words)]
        )
        detection = self.settings.turn_detection
        answer_next = detection is not None and detection.create_response
        source = EngineSource(self.engines, self.engines.fair_share)
        return await source.end_of_turn(request, answer_next=answer_next)

    def turn_resumed(self) -> None:
        """The user went on: what was prepared is dropped without a trace."""
        self._speculator.drop()

    # -- life cycle ---------------------------------------------------------------------------------------

    async def run(self, transport: Transport) -> None:
        """Serve the connection until the client leaves or the session expires; cancel-safe."""
        logger.info("session %s opened (%s, model %s)", self.id, self.shape_name, self.settings.model)
        self.send(self.wire.event(EventKind.SESSION_CREATED, session=self._session))
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                writer = group.create_task(self._outbox.run(transport), name=f"{self.id} writer")
                expiry = group.create_task(self._expire(), name=f"{self.id} expiry")
                try:
                    await self._read(transport)
                finally:
                    self._set_state(ConnectionState.CLOSING)
                    expiry.cancel()
                    for task in list(self._children):
                        task.cancel()
                    writer.cancel()  # the client is gone: what is still queued has nobody to read it
        finally:
            self._group = None
            await self.audio.aclose()
            self._set_state(ConnectionState.CLOSED)
            logger.info("session %s closed after %.1f s", self.id, time.time() - self._started)

    async def _read(self, transport: Transport) -> None:
        while True:
            await self._outbox.room()
            message = await transport.receive()
            if message is None:
                return
            await self.handle_message(message)

    async def _expire(self) -> None:
        await asyncio.sleep(max(0.0, self._started + self._limits.max_session_s - time.time()))
        seconds = self._limits.max_session_s
        span = f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} seconds"
        logger.info("session %s expired after %s", self.id, span)
        self._send_error(
            ProtocolError(f"Your session hit the maximum duration of {span}.", code="session_expired"), None
        )
        for run in list(self._runs.values()):
            run.cancel("client_cancelled")
        self._outbox.close(
            CloseRequest(1001, f"Your session hit the maximum duration of {span}."), grace_s=_CLOSE_GRACE_S
        )

    # -- dispatch -----------------------------------------------------------------------------------------

    async def handle_message(self, message: str | bytes) -> None:
        """Parse and handle one WebSocket message; every failure becomes an ``error`` event."""
        if not isinstance(message, str):
            self._send_error(
                ProtocolError(
                    "Expected a text WebSocket message; binary frames are not supported.",
                    code="invalid_event",
                ),
                None,
            )
            return
        if len(message) > self._limits.max_message_bytes:
            self._send_error(
                ProtocolError(
                    f"The event is {len(message)} bytes; this server accepts at most "
                    f"{self._limits.max_message_bytes} bytes per event.",
                    code="message_too_large",
                ),
                None,
            )
            return
        try:
            raw = load_event(message, self._limits)  # limits first: depth, sizes, ids (no recursion)
            event: EventBase = parse_client_event(raw, shape=self.shape_name, strict=True)
        except ProtocolError as exc:
            self._send_error(exc, None)
            return
        except EventValidationError as exc:
            self._send_error(ProtocolError(exc.message, code=exc.code, param=exc.param), exc.event_id)
            return
        except EventParseError as exc:
            message_text = (
                "Invalid event: failed to parse JSON value." if exc.code == "invalid_json" else exc.message
            )
            self._send_error(ProtocolError(message_text, code=exc.code), None)
            return
        event_id = getattr(event, "event_id", None)
        self._observer.received(event)
        try:
            await self._handlers[event.type](event)
        except ProtocolError as exc:
            self._send_error(exc, event_id)
        except Exception as exc:  # a bug must not end the session: report it as a server error
            logger.exception("session %s: %s handler failed", self.id, event.type)
            self._send_error(
                ProtocolError(
                    f"The server failed to handle {event.type}: {type(exc).__name__}.",
                    code="server_error",
                    error_type="server_error",
                ),
                event_id,
            )

    def _send_error(self, error: ProtocolError, event_id: str | None) -> None:
        logger.debug("session %s: error %s (param %s)", self.id, error.code, error.param)
        self.send(
            self.wire.event(
                EventKind.ERROR,
                error=dict(
                    type=error.error_type,
                    code=error.code,
                    message=error.message,
                    param=error.param,
                    event_id=event_id,
                ),
            )
        )

    # -- handlers -----------------------------------------------------------------------------------------

    async def _on_session_update(self, event: SessionUpdate) -> None:
        previous = self.settings
        self._session, self.settings = apply_update(self.wire.dialect, self._session, event.session)
        self.audio.configure(self.settings, previous)
        self.send(self.wire.event(EventKind.SESSION_UPDATED, session=self._session))

    async def _on_append(self, event: beta.InputAudioBufferAppendEvent) -> None:
        await self.audio.append(event.audio)

    async def _on_commit(self, event: beta.InputAudioBufferCommitEvent) -> None:
        self.audio.commit()

    async def _on_clear(self, event: beta.InputAudioBufferClearEvent) -> None:
        self.audio.clear()

    async def _on_item_create(self, event: ItemCreate) -> None:
        item = item_from_model(event.item)
        previous_id = event.previous_item_id if "previous_item_id" in event.model_fields_set else None
        previous = self.conversation.add(item, previous_id)
        for announcement in self.wire.item_announced(item, previous):
            self.send(announcement)

    async def _on_item_retrieve(self, event: beta.ConversationItemRetrieveEvent) -> None:
        item = self.conversation.get(event.item_id)
        if item is None:
            raise ProtocolError(
                f"Item with item_id '{event.item_id[:64]}' not found.",
                code="item_retrieve_invalid_item_id",
                param="item_id",
            )
        codec = self.settings.input_codec if item.role == "user" else self.settings.output_codec
        self.send(self.wire.event(EventKind.ITEM_RETRIEVED, item=self.wire.item(item, audio_codec=codec)))

    async def _on_item_truncate(self, event: beta.ConversationItemTruncateEvent) -> None:
        self.conversation.truncate(event.item_id, event.content_index, event.audio_end_ms)
        self.send(
            self.wire.event(
                EventKind.ITEM_TRUNCATED,
                item_id=event.item_id,
                content_index=event.content_index,
                audio_end_ms=event.audio_end_ms,
            )
        )

    async def _on_item_delete(self, event: beta.ConversationItemDeleteEvent) -> None:
        self.conversation.delete(event.item_id)
        self.send(self.wire.event(EventKind.ITEM_DELETED, item_id=event.item_id))

    async def _on_response_create(self, event: ResponseCreate) -> None:
        request = response_request(self.wire.dialect, self.settings, event.response)
        for index, entry in enumerate(request.input_items or []):
            if isinstance(entry, ItemReference) and self.conversation.get(entry.id) is None:
                raise ProtocolError(
                    f"Item with id '{entry.id[:64]}' referenced in response.input does not exist.",
                    code="invalid_value",
                    param=f"response.input[{index}].id",
                )
        if not request.out_of_band:
            self.conversation.check_room()  # its answer could not be kept: refuse it up front
        if not request.out_of_band and self._active is not None:
            raise ProtocolError(
                f"Conversation already has an active response in progress: {self._active.id}. Wait until the "
                "response is finished before creating a new one.",
                code="conversation_already_has_active_response",
            )
        self._start_response(request)

    async def _on_response_cancel(self, event: beta.ResponseCancelEvent) -> None:
        target = self._runs.get(event.response_id) if event.response_id else self._active
        if target is None or not target.cancel("client_cancelled"):
            raise ProtocolError(
                "Cancellation failed: no active response found", code="response_cancel_not_active"
            )

    async def _on_webrtc_only(self, event: beta.OutputAudioBufferClearEvent) -> None:
        raise ProtocolError(
            f"{event.type} is only available on WebRTC and SIP connections, not on WebSocket.",
            code="unsupported_transport",
            param="type",
        )

    async def _on_transcription_update(self, event: beta.TranscriptionSessionUpdateEvent) -> None:
        raise ProtocolError(
            "transcription_session.update is only valid in transcription sessions, not in realtime ones.",
            code="invalid_value",
            param="type",
        )

    # -- responses ----------------------------------------------------------------------------------------

    def _start_response(self, request: ResponseRequest, source: ResponseSource | None = None) -> None:
        previous = None if request.out_of_band else self._active
        run = ResponseRun(self, request, self._response_finished, source)
        self._runs[run.id] = run
        if not request.out_of_band:
            self._active = run
            self._prefiller.stop()
        self.spawn(self._run_after(run, previous), name=f"response {run.id}")

    async def _run_after(self, run: ResponseRun, previous: ResponseRun | None) -> None:
        """Run ``run`` once ``previous`` (a response still finishing in the same conversation) is done."""
        if previous is not None:
            await previous.done.wait()
        await run.run()

    def _response_finished(self, run: ResponseRun) -> None:
        self._runs.pop(run.id, None)
        if self._active is run:
            self._active = None
            self.audio.last_turn_ended()

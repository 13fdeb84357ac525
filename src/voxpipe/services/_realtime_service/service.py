"""``RealtimeLLMService``: a speech-to-speech model over the Realtime protocol, in either dialect.

The service is a thin adapter between the pipeline and :class:`~voxpipe.realtime.client.RealtimeClient`:
frames going in become client events (audio appends, commits, items, responses, session updates), and
server events coming back become frames (the answer's audio and transcript, the user's transcript,
speaking and interruption frames, metrics, errors).

The beta and GA services are siblings over this class; each names its dialect
(:class:`~voxpipe.realtime.dialect.Dialect`) and client variant, and nothing else. Every difference
between the shapes (event names, session nesting, content part names) is asked of the dialect: settings
are always written the flat way (``SessionProperties``), and server events are dispatched by their
:class:`~voxpipe.realtime.dialect.EventKind` to the typed handler methods below, next to the state they
change.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from voxpipe.errors import ServerError, VoxpipeStateError, VoxpipeWorldError
from voxpipe.frames.audio import (
    InputAudioRawFrame,
    PlaybackPositionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from voxpipe.frames.base import Frame, SystemFrame
from voxpipe.frames.control import CancelFrame, EndFrame, ErrorFrame, StartFrame
from voxpipe.frames.llm import (
    FunctionCallFromLLM,
    FunctionCallResultFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMMessagesAppendFrame,
    LLMMessagesUpdateFrame,
    LLMSetToolsFrame,
    LLMUpdateSettingsFrame,
)
from voxpipe.frames.speech import (
    StartInterruptionFrame,
    StopInterruptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from voxpipe.frames.text import InterimTranscriptionFrame, LLMTextFrame, TranscriptionFrame
from voxpipe.metrics.metrics import LLMTokenUsage
from voxpipe.processors.frame_processor import FrameDirection, frame_handler
from voxpipe.realtime import (
    ConversationItemDeleteEvent,
    EventBase,
    InputAudioBufferAppendEvent,
    InputAudioBufferCommitEvent,
    ProtocolModel,
    ResponseCancelEvent,
    Session,
    SessionProperties,
)
from voxpipe.realtime.client import (
    ClientNotice,
    ClientState,
    ConnectionLost,
    ConnectReason,
    MalformedFrame,
    RealtimeClientConfig,
    RealtimeVariant,
    Reconnected,
    ReconnectPolicy,
    classify_error,
    redact,
)
from voxpipe.realtime.dialect import Dialect, EventKind
from voxpipe.services._realtime_service.codecs import decoder as _decoder
from voxpipe.services._realtime_service.codecs import encoder as _encoder
from voxpipe.services._realtime_service.conversation import item_signature, plan_conversation, wanted_items
from voxpipe.services._realtime_service.downstream import DEFAULT_MAX_QUEUED_AUDIO_MS, DownstreamQueue
from voxpipe.services._realtime_service.interruptions import PlaybackReports, forget_unheard
from voxpipe.services._realtime_service.items import function_output, messages_to_items
from voxpipe.services._realtime_service.outage import DEFAULT_HELD_AUDIO_MS, Outage, SentAudio
from voxpipe.services._realtime_service.responses import ResponseState, ResponseTracker
from voxpipe.services._realtime_service.state import (
    AnswerAudio,
    FinishedOutput,
    Listening,
    PendingRetrievals,
    RepeatedEvents,
    UserTurn,
)
from voxpipe.services._realtime_service.tools import merge_settings, session_for_wire
from voxpipe.services.llm_service import LLMService

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.realtime import beta, ga
    from voxpipe.realtime.client import ConnectionInfo, RealtimeClient

    SessionEvent = (
        beta.SessionCreatedEvent | beta.SessionUpdatedEvent | ga.SessionCreatedEvent | ga.SessionUpdatedEvent
    )
    ItemEvent = (
        beta.ConversationItemCreatedEvent
        | beta.ResponseOutputItemAddedEvent
        | beta.ResponseOutputItemDoneEvent
        | ga.ConversationItemAddedEvent
        | ga.ConversationItemCreatedEvent
        | ga.ConversationItemDoneEvent
        | ga.ResponseOutputItemAddedEvent
        | ga.ResponseOutputItemDoneEvent
    )
    RetrievedEvent = beta.ConversationItemRetrievedEvent | ga.ConversationItemRetrievedEvent
    AnyConversationItem = beta.ConversationItem | ga.ConversationItem
    ResponseEvent = (
        beta.ResponseCreatedEvent | beta.ResponseDoneEvent | ga.ResponseCreatedEvent | ga.ResponseDoneEvent
    )
    AudioDeltaEvent = beta.ResponseAudioDeltaEvent | ga.ResponseOutputAudioDeltaEvent
    AudioDoneEvent = beta.ResponseAudioDoneEvent | ga.ResponseOutputAudioDoneEvent
    TextDoneEvent = (
        beta.ResponseTextDoneEvent
        | beta.ResponseAudioTranscriptDoneEvent
        | ga.ResponseOutputTextDoneEvent
        | ga.ResponseOutputAudioTranscriptDoneEvent
    )
    TextDeltaEvent = (
        beta.ResponseTextDeltaEvent
        | beta.ResponseAudioTranscriptDeltaEvent
        | ga.ResponseOutputTextDeltaEvent
        | ga.ResponseOutputAudioTranscriptDeltaEvent
    )

__all__ = ["BENIGN_ERROR_CODES", "DEFAULT_BASE_URL", "RealtimeLLMService"]

logger = logging.getLogger(__name__)

_TAKES_AUDIO = frozenset({ClientState.CONNECTING, ClientState.CONNECTED, ClientState.RECONNECTING})
"""Client states in which input audio is kept (sent, queued or held) rather than dropped."""

DEFAULT_BASE_URL = "wss://api.openai.com/v1/realtime"

BENIGN_ERROR_CODES = frozenset(
    {
        "response_cancel_not_active",
        "item_truncate_invalid_item_id",
        "item_delete_invalid_item_id",
        "invalid_value",  # a truncate past the audio the server sent
    }
)
"""Rejections of a cancel or truncate that raced the server: expected, logged, never reported upstream."""

MIN_IDLE_ROTATION_AGE_S = 2.0
"""An idle session younger than this is never rotated (a fresh session is idle, and as old as any)."""

IDLE_ROTATION_CHECK_S = 0.5
"""How often an old session that is not idle yet is checked again (its answer's end also rotates it)."""

SILENT_TURN_CHECK_S = 0.5
"""How often an open server turn is checked for having gone silent (the quiet it takes, ``SILENT_TURN_MS``,
is 20 times longer)."""

TURN_SETTLE_S = 2.0
"""After the user stopped speaking, how long a turn no answer started for keeps the session from rotating
(the commit and its transcript are on their way; a session that answers on its own starts at once)."""

MAX_PENDING_SERVER_EVENTS = 256
"""Server events read and not yet handled: once the downstream queue is full (the service reads at the
pace of playback) the rest of the answer waits in the socket, not in memory."""

_APPLIED_KEY = "voxpipe.applied_to_contexts"
"""Frame metadata the context aggregators keep: contexts an ``LLMMessagesAppendFrame`` was appended to."""

ServerEventHandler = Callable[["RealtimeLLMService", Any], Awaitable[None]]


class RealtimeLLMService(LLMService):
    """Speech in, speech out, through a Realtime-protocol server; subclasses name the dialect.

    Args:
        api_key: the key; defaults to the ``OPENAI_API_KEY`` environment variable (local servers may
            need none).
        model: the speech-to-speech model.
        base_url: the WebSocket endpoint; ``?model=`` is added to it.
        session_properties: the session settings sent on connect (and again after a reconnect), written
            flat whatever the dialect.
        start_audio_paused: drop input audio until :meth:`set_audio_input_paused` ``(False)``.
        send_transcription_frames: push the user's transcripts as ``TranscriptionFrame``\\ s (and
            ``InterimTranscriptionFrame``\\ s for deltas), when the session transcribes input audio.
        reconnect: how to come back after a dropped socket (or an expired session).
        held_audio_ms: microphone audio kept while the link is down and sent once it is back (the oldest
            is dropped past this bound).
        resent_audio_ms: most audio a new session gets again of what the lost one's input buffer held
            uncommitted (0: none): the user's turn so far when they were speaking, else the last
            second (see :class:`~voxpipe.services._realtime_service.outage.SentAudio`).
        max_session_age_s: rotate to a fresh server session, at a safe point, once the session is this
            old (None: only when the server expires it): when an answer ends, or while the session is
            idle once it is that old (and at least ``MIN_IDLE_ROTATION_AGE_S``, so a tiny age rotates
            only between answers, never in a loop). A safe point has no answer or function call in
            flight and no turn of the user's open (speaking, or stopped and not answered yet): a user
            speaking when the age is reached is heard out and answered first. A turn the server's VAD
            opened (``speech_started``) and never closed stops holding the rotation once the user has been
            quiet for ``SILENT_TURN_MS`` (10 s; a stuck VAD, noise it takes for speech, a lost
            ``speech_stopped``): 10 s of near-silent audio sent, or 10 s of wall-clock time in which no
            louder audio was sent (input paused or muted, a transport that stopped sending); see
            :class:`UserTurn`. Whatever the age, the pipeline then gets the ``UserStoppedSpeakingFrame``
            (``emulated=True``) that the server never sent for the ``UserStartedSpeakingFrame`` it got,
            once, on the same session: a ``speech_stopped`` that comes after is not told again; the
            session rotates when it is old enough (with None, such a turn is never rotated away).
            Rotating early keeps the server's own time limit from cutting an answer.
        max_queued_audio_ms: how far ahead of playback the answer's audio is read. The server's events
            are read by one task and the frames they make are pushed downstream by another, from a
            bounded queue (see :mod:`~voxpipe.services._realtime_service.downstream`), so a full output
            never delays a ``speech_started``; past this much queued audio, reading waits for playback.

    Events: ``on_conversation_item_created(service, item_id, item)`` and
    ``on_conversation_item_updated(service, item_id, item_or_None)``.
    """

    dialect: ClassVar[Dialect]
    """The protocol shape this service speaks."""
    _variant: ClassVar[RealtimeVariant]
    """How the session client reaches the server (URL, headers)."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        model: str,
        base_url: str = DEFAULT_BASE_URL,
        session_properties: SessionProperties | None = None,
        start_audio_paused: bool = False,
        send_transcription_frames: bool = True,
        reconnect: ReconnectPolicy | None = None,
        held_audio_ms: int = DEFAULT_HELD_AUDIO_MS,
        resent_audio_ms: int = DEFAULT_HELD_AUDIO_MS,
        max_session_age_s: float | None = None,
        max_queued_audio_ms: int = DEFAULT_MAX_QUEUED_AUDIO_MS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.model_name = model
        self.set_metrics_model(model)
        self._base_url = base_url
        self._session_properties = session_properties or SessionProperties()
        self._audio_paused = start_audio_paused
        self._send_transcription_frames = send_transcription_frames
        self._reconnect = reconnect or ReconnectPolicy()
        self._client: RealtimeClient | None = None
        self._server_session: Session | None = None
        self._encoder = _encoder(self._session_properties.input_audio_format)
        self._decoder = _decoder(self._session_properties.output_audio_format)
        self._responses = ResponseTracker(self._send_response_create, name=self.name)
        self._answer = AnswerAudio()
        self._retrievals = PendingRetrievals()
        self._repeats = RepeatedEvents()
        self._finished = FinishedOutput()
        self._turn = UserTurn()
        self._items: dict[str, Any] = {}  # the server's conversation: parsed items, or the dicts we sent
        self._outage = Outage(max_held_ms=held_audio_ms)
        self._sent_audio = SentAudio(max_ms=resent_audio_ms)
        self._max_session_age_s = max_session_age_s
        self._session_started_at = 0.0
        self._sync_pending = False
        self._calls_in_flight: set[str] = set()  # dispatched calls whose result the model has not got
        self._context: Any = None
        self._playback = PlaybackReports()
        self._downstream = DownstreamQueue(self._push_in_order, max_audio_ms=max_queued_audio_ms)
        self._pump: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self.rate_limits: list[Any] = []
        self._register_event_handler("on_conversation_item_created")
        self._register_event_handler("on_conversation_item_updated")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} model={self.model_name!r} url={self._base_url!r}>"

    # -- settings -------------------------------------------------------------------------------------
    @property
    def session_properties(self) -> SessionProperties:
        """The session settings this service asks for (what it sends on connect)."""
        return self._session_properties

    @property
    def server_session(self) -> Session | None:
        """The session as the server last reported it (read into the flat form)."""
        return self._server_session

    def _effective(self, field: str) -> Any:
        """A session setting: what we asked for, else what the server reported."""
        value = getattr(self._session_properties, field)
        if value is None and self._server_session is not None:
            value = getattr(self._server_session, field)
        return value

    @property
    def turn_detection_enabled(self) -> bool:
        """Whether the server detects turns (False: the pipeline's speaking frames drive turns)."""
        setting = self._session_properties.turn_detection
        if setting is None and self._server_session is not None:
            return self._server_session.turn_detection is not None
        return setting is not False

    def set_audio_input_paused(self, paused: bool) -> None:
        """Pause or resume sending input audio; while paused, audio is dropped, not buffered."""
        self._audio_paused = paused
        if paused:
            self._encoder.reset()

    async def update_session(self, **fields: Any) -> None:
        """Change only the given session settings (others stay as they are) and tell the server.

        A nested setting given in part (``turn_detection={"silence_duration_ms": 500}``) is merged field
        by field into the current one, and the server gets the whole merged object (a server replaces
        nested objects, so sending one field would reset the others to its defaults).

        Raises:
            VoxpipeUsageError: a name is not a session setting.
        """
        self._session_properties = merge_settings(self._session_properties, fields)
        if "input_audio_format" in fields:
            self._encoder = _encoder(self._session_properties.input_audio_format, self._encoder)
            self._sent_audio.forget()  # audio of the old format cannot go to a new session
        if "output_audio_format" in fields:
            self._decoder = _decoder(self._session_properties.output_audio_format)
        changed = {name: getattr(self._session_properties, name) for name in fields}
        self._send(self._session_update_event(SessionProperties(**changed)))

    # -- the dialect at the edges ---------------------------------------------------------------------
    def _session_update_event(self, properties: SessionProperties) -> EventBase:
        """The ``session.update`` that carries ``properties`` (nested for GA)."""
        return self.dialect.session_update(session_for_wire(properties))

    def _item_create_event(self, item: dict[str, Any]) -> EventBase:
        """The ``conversation.item.create`` that adds ``item`` (a wire dict)."""
        return self.dialect.client_event(EventKind.ITEM_CREATE, item=self.dialect.item_model(**item))

    def _history_items(self, messages: Any) -> list[dict[str, Any]]:
        """Chat messages as conversation items of this dialect."""
        return messages_to_items(messages, assistant_text_type=self.dialect.assistant_text_part)

    def _send_response_create(self, overrides: dict[str, Any] | None) -> None:
        fields = {"response": overrides} if overrides else {}
        self._send(self.dialect.client_event(EventKind.RESPONSE_CREATE, **fields))

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self, frame: StartFrame) -> None:
        """Connect, send the session settings, and start reading server events."""
        await super().start(frame)
        from voxpipe.realtime.client import RealtimeClient  # websockets loads here, not at import

        self._start_pump()

        self._client = RealtimeClient(self._client_config(), on_connected=self._on_connected)
        try:
            await self._client.connect()
        except VoxpipeWorldError as exc:
            await self._fail(f"could not connect to the realtime server: {exc}", exc)
            return
        self._reader = self.create_task(self._receive(), name="receive")
        if self._max_session_age_s is not None:
            self.create_task(self._rotate_when_idle_and_old(self._max_session_age_s), name="session_age")
        self.create_task(self._end_silent_turns(), name="silent_turns")

    def _start_pump(self) -> None:
        self._pump = self.create_task(self._downstream.run(), name="downstream")

    def _client_config(self) -> RealtimeClientConfig:
        """Where and how to connect; variants (Azure) override it."""
        return RealtimeClientConfig(
            api_key=self._api_key,
            variant=self._variant,
            base_url=self._base_url,
            model=self.model_name,
            reconnect=self._reconnect,
            max_pending_events=MAX_PENDING_SERVER_EVENTS,
        )

    async def stop(self, frame: EndFrame) -> None:
        """Close the session after the frames before the EndFrame were handled and pushed on."""
        await super().stop(frame)
        await self._disconnect()
        if self._pump is not None and not self._pump.done():
            await self._downstream.wait_idle()  # the answer's frames go before the EndFrame

    async def cancel(self, frame: CancelFrame) -> None:
        """Close the session now."""
        await super().cancel(frame)
        self._downstream.clear()
        await self._disconnect()

    # -- frames out -----------------------------------------------------------------------------------
    async def push_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> None:
        """Push a frame; an ordered frame the event reader makes for downstream goes through the queue.

        So the reader never waits on the pipeline (see :class:`DownstreamQueue`); everything else (system
        frames, upstream frames, frames of the lane or of function calls) is pushed as usual.
        """
        if (
            direction is FrameDirection.DOWNSTREAM
            and not isinstance(frame, SystemFrame)
            and self._reader is not None
            and asyncio.current_task() is self._reader
        ):
            await self._downstream.put(frame)
            return
        await super().push_frame(frame, direction)

    async def _push_in_order(self, frame: Frame) -> None:
        """The pump's push: downstream, waiting while the next processor's lane is full."""
        await super().push_frame(frame, FrameDirection.DOWNSTREAM)

    async def _drop_queued_audio(self) -> None:
        """The user talked over the answer: its audio still queued here must not reach the output."""
        dropped = self._downstream.drop_audio()
        if self._downstream.pushing_audio and self._pump is not None:
            await self.cancel_task(self._pump)  # it held a frame of that audio, waiting for room
            self._start_pump()
        if dropped and logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: dropped %d queued audio frames", self, dropped)

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def _on_connected(self, connection: ConnectionInfo) -> None:
        """Runs on every (re)connection, before queued events: settings first, then the history.

        A new session after a loss gets the history as items, once the loss was handled (the answer it
        cut is closed): the context, plus the part of the cut answer the aggregator may not hold yet,
        minus what is already queued to go out after the replay (items created while down).
        """
        self._session_started_at = asyncio.get_running_loop().time()
        await connection.send(self._session_update_event(self._session_properties))
        if connection.reason is ConnectReason.INITIAL:
            return
        await self._outage.wait_handled(connection.connection)
        queued = dict(self._items)  # created while down: in the client's queue, sent after the replay
        self._items.clear()
        for item in plan_conversation({}, self._wanted_items(exclude=queued.values())).create:
            await connection.send(self._item_create_event(item))
            self._items[item["id"]] = item
        self._items.update(queued)
        self._outage.cut_answer = ""
        for chunk in self._outage.unheard:  # before the appends still queued: they came after
            await connection.send(InputAudioBufferAppendEvent(audio=chunk))
        recommit, self._outage.recommit_ms = self._outage.recommit_ms, None
        if recommit and self._outage.unheard:  # our commit died with the session: commit that turn again
            await connection.send(InputAudioBufferCommitEvent())
            self._sent_audio.commit_sent(recommit)
        self._outage.unheard = []

    def _wanted_items(self, exclude: Any = ()) -> list[dict[str, Any]]:
        """The items the server should hold: the context's history as items, in order.

        Left out: outputs of calls still running (the context holds a placeholder), and one item per
        item of ``exclude`` with the same meaning (already on its way).
        """
        if self._context is None:
            return []
        messages = list(self._context.get_messages())
        cut = self._outage.cut_answer
        said = [m.get("content") for m in messages if m.get("role") == "assistant"]
        if cut and (not said or said[-1] != cut):
            messages.append({"role": "assistant", "content": cut})
        items = wanted_items(self._history_items(messages), skip_outputs=set(self._calls_in_flight))
        for gone in map(item_signature, exclude):
            match = next((i for i, item in enumerate(items) if item_signature(item) == gone), None)
            if match is not None:
                del items[match]
        return items

    async def _receive(self) -> None:
        client = self._client
        assert client is not None
        try:
            async for event in client:
                await self._dispatch(event)
        except VoxpipeWorldError as exc:
            await self._fail(f"the realtime session ended: {exc}", exc)
        except Exception as exc:  # on_connected failed: a bug of ours, but the pipeline must hear of it
            await self._fail(f"the realtime session ended unexpectedly: {type(exc).__name__}", exc)

    async def _fail(self, message: str, exc: BaseException) -> None:
        await self._close_answer()
        logger.error("%s: %s", self, message)
        await self.push_frame(
            ErrorFrame(error=message, fatal=True, exception=exc, processor=self), FrameDirection.UPSTREAM
        )

    def _redact(self, text: str) -> str:
        """``text`` from the server with our key (and anything shaped like a key) masked: safe to log."""
        return redact(text, (self._api_key,))

    def _send(self, event: Any) -> None:
        client = self._client
        if client is None:
            logger.debug("%s: not connected; dropped %s", self, getattr(event, "type", event))
            return
        try:
            client.send(event)
        except VoxpipeStateError:
            logger.debug("%s: session closing; dropped %s", self, getattr(event, "type", event))

    # -- frames in ------------------------------------------------------------------------------------
    @frame_handler(InputAudioRawFrame)
    async def _on_input_audio(self, frame: InputAudioRawFrame, direction: FrameDirection) -> None:
        client = self._client
        if self._audio_paused or client is None:
            return
        state = client.state
        if state not in _TAKES_AUDIO:
            return  # closing: no session to give it to
        # While the first connection is made, appends queue in the client, which sends them right after
        # the session settings: a transport's audio can start before the session is up (a browser's call
        # connects in parallel with it), and the user's first words must not be dropped.
        # While the link is down (and until what was held went out), audio is held, up to a bound.
        holding = state is ClientState.RECONNECTING or self._outage.held_ms > 0
        encoder = self._encoder
        loud_until = encoder.loud_until_ms
        for chunk in encoder.push(frame.audio, frame.sample_rate, frame.num_channels):
            if holding:
                self._outage.hold(chunk, encoder.chunk_ms(chunk))
            else:
                self._append_audio(chunk)
        if encoder.loud_until_ms != loud_until:  # louder than near-silence: the user is not quiet
            self._turn.heard_loud(asyncio.get_running_loop().time())

    def _append_audio(self, chunk: str) -> None:
        """Send an ``input_audio_buffer.append``, and keep it until the server commits it."""
        self._send(InputAudioBufferAppendEvent(audio=chunk))
        self._sent_audio.sent(chunk, self._encoder.chunk_ms(chunk))

    @frame_handler(StartInterruptionFrame)
    async def _on_start_interruption(self, frame: StartInterruptionFrame, direction: FrameDirection) -> None:
        await self._interrupt_answer(frame, direction, cancel=not self.turn_detection_enabled)

    @frame_handler(UserStartedSpeakingFrame)
    async def _on_user_started(self, frame: UserStartedSpeakingFrame, direction: FrameDirection) -> None:
        if not self.turn_detection_enabled and direction is FrameDirection.DOWNSTREAM:
            self._turn.started()  # the pipeline's VAD drives the turns
        await self.push_frame(frame, direction)

    @frame_handler(UserStoppedSpeakingFrame)
    async def _on_user_stopped(self, frame: UserStoppedSpeakingFrame, direction: FrameDirection) -> None:
        if not self.turn_detection_enabled and direction is FrameDirection.DOWNSTREAM:
            for chunk in self._encoder.flush():
                self._append_audio(chunk)
            self._send(InputAudioBufferCommitEvent())
            self._sent_audio.commit_sent()
            await self.start_ttfb_metrics()
            self._responses.request()
            self._turn.answered()  # the response tracker holds the turn now
        await self.push_frame(frame, direction)

    @frame_handler(PlaybackPositionFrame)
    async def _on_playback_position(self, frame: PlaybackPositionFrame, direction: FrameDirection) -> None:
        self._playback.report(frame.position_ms)
        await self.push_frame(frame, direction)

    @frame_handler(LLMMessagesAppendFrame)
    async def _on_messages_append(self, frame: LLMMessagesAppendFrame, direction: FrameDirection) -> None:
        self._create_items(self._history_items(frame.messages))
        applied: list[int] = frame.metadata.setdefault(_APPLIED_KEY, [])
        if self._context is not None and id(self._context) not in applied:  # not yet by an aggregator
            applied.append(id(self._context))
            self._context.add_messages(frame.messages)
        last_role = frame.messages[-1].get("role") if frame.messages else None
        if frame.run_llm or (frame.run_llm is None and last_role == "user"):
            self._responses.request()

    @frame_handler(LLMUpdateSettingsFrame)
    async def _on_update_settings(self, frame: LLMUpdateSettingsFrame, direction: FrameDirection) -> None:
        await self.update_session(**frame.settings)

    @frame_handler(LLMSetToolsFrame)
    async def _on_set_tools(self, frame: LLMSetToolsFrame, direction: FrameDirection) -> None:
        await self.update_session(tools=frame.tools)

    @frame_handler(LLMContextFrame)
    async def _on_context(self, frame: LLMContextFrame, direction: FrameDirection) -> None:
        first = self._context is None
        self._context = frame.context
        if first:
            await self._apply_context(frame.context)
        else:  # a new or reset context: the server's conversation must become it
            self._request_sync()

    @frame_handler(LLMMessagesUpdateFrame)
    async def _on_messages_update(self, frame: LLMMessagesUpdateFrame, direction: FrameDirection) -> None:
        if self._context is None:
            from voxpipe.services.openai_realtime_beta.context import OpenAIRealtimeLLMContext

            self._context = OpenAIRealtimeLLMContext(messages=frame.messages)
        elif self._context.get_messages() != frame.messages:
            self._context.set_messages(frame.messages)
        self._request_sync()
        if frame.run_llm:
            self._responses.request()

    def _request_sync(self) -> None:
        """Bring the server's conversation in step with the context, once no response is in progress.

        Editing the conversation under an active response would race it (the response's own items land
        in the middle of the edit); the sync then waits for ``response.done``.
        """
        if self._responses.in_progress:
            self._sync_pending = True
            return
        self._sync_conversation()

    def _sync_conversation(self) -> None:
        """Delete the server's items that are gone from the context, create the new ones."""
        self._sync_pending = False
        plan = plan_conversation(self._items, self._wanted_items())
        for item_id in plan.delete:
            self._items.pop(item_id, None)
            self._send(ConversationItemDeleteEvent(item_id=item_id))
        for item in plan.create:
            self._items[item["id"]] = item
            self._send(self._item_create_event(item))
        if plan:
            logger.info(
                "%s: conversation synced (%d deleted, %d created)", self, len(plan.delete), len(plan.create)
            )

    def _create_items(self, items: list[dict[str, Any]]) -> None:
        """Create items at the end of the server's conversation, with ids of ours (known at once)."""
        for item in plan_conversation({}, items).create:
            self._items[item["id"]] = item
            self._send(self._item_create_event(item))

    @property
    def conversation_item_ids(self) -> list[str]:
        """Ids of the server conversation's items, in order, as this service knows them."""
        return list(self._items)

    async def conversation_differences(self, timeout: float = 5.0) -> list[str]:
        """Compare the context with the server's conversation; one line per difference (none: in step).

        Every item the service knows is retrieved from the server and compared, kind, role and text, in
        order, with the context's messages as items. Call it while no response is in progress.

        Raises:
            ItemNotFoundError: the server lost an item the service knows.
            OperationTimeoutError: a retrieval took longer than ``timeout``.
        """
        if self._context is None:
            return []
        local = [
            item_signature(item)
            for item in wanted_items(self._history_items(self._context.get_messages()), skip_outputs=set())
        ]
        remote = []
        for item_id in list(self._items):
            remote.append(item_signature(await self.retrieve_conversation_item(item_id, timeout=timeout)))
        return [
            f"item {index}: local {mine} != server {theirs}"
            for index, (mine, theirs) in enumerate(itertools.zip_longest(local, remote))
            if mine != theirs
        ]

    async def _apply_context(self, context: Any) -> None:
        """Send a first context: system text as instructions (unless set), history as items; answer."""
        system = getattr(context, "system", None)
        updates: dict[str, Any] = {}
        if system and not self._session_properties.instructions:
            updates["instructions"] = system
        tools = getattr(context, "tools", None)
        if tools and self._session_properties.tools is None:
            updates["tools"] = tools
        if updates:
            await self.update_session(**updates)
        self._create_items(self._history_items(context.get_messages()))
        self._responses.request()

    # -- interruptions --------------------------------------------------------------------------------
    async def _interrupt_answer(
        self, frame: StartInterruptionFrame, direction: FrameDirection, *, cancel: bool
    ) -> None:
        """Stop the answer the user talked over, and make the server forget what was never heard.

        ``cancel`` sends ``response.cancel`` (only when a response is in progress): the pipeline detected
        the speech. Under server turn detection the server cancels on its own.
        """
        if cancel and self._responses.cancel():
            self._send(ResponseCancelEvent())
        await self._drop_queued_audio()
        self._playback.expect()
        await self.push_frame(frame, direction)  # the output stops and reports what it played
        answer = self._answer
        if answer.item_id is None or answer.truncated:
            return
        answer.truncated = True
        interrupted_at = asyncio.get_running_loop().time()  # before any wait: the estimate is as of now
        reported = await self._playback.position()
        played = (
            answer.clamp_ms(reported) if reported is not None else answer.played_estimate_ms(interrupted_at)
        )
        event = forget_unheard(answer, played)
        if event is not None:
            self._send(event)
        answer.stop_audio()

    # -- responses and items (public) -----------------------------------------------------------------
    def request_response(self, **overrides: Any) -> None:
        """Ask the model to answer now (queued if a response is in progress); overrides go in ``response``."""
        self._responses.request(overrides or None)

    async def retrieve_conversation_item(self, item_id: str, timeout: float = 5.0) -> AnyConversationItem:
        """Ask the server for a conversation item and return it.

        Raises:
            ItemNotFoundError: the server has no such item.
            OperationTimeoutError: no answer within ``timeout`` seconds.
            VoxpipeStateError: the service is not connected.
        """
        if self._client is None:
            raise VoxpipeStateError(f"{self}: not connected; retrieve items while the pipeline runs")
        item: AnyConversationItem = await self._retrievals.retrieve(item_id, self._send, timeout, owner=self)
        return item

    async def on_function_call_result(self, frame: FunctionCallResultFrame) -> None:
        """Give the model a function's result, then let it answer (unless ``run_llm`` is False)."""
        output = function_output(frame.result)
        item = {"type": "function_call_output", "call_id": frame.tool_call_id, "output": output}
        self._create_items([item])
        self._calls_in_flight.discard(frame.tool_call_id)
        if frame.run_llm is not False and not self._calls_in_flight:
            self._responses.request()  # answer once, after the last result of the calls in flight

    async def cancel_function_calls(self, *, interruptible_only: bool = True) -> list[str]:
        """Cancel running calls; a cancelled call sends no result, so no answer waits for it."""
        cancelled = await super().cancel_function_calls(interruptible_only=interruptible_only)
        self._calls_in_flight.difference_update(cancelled)
        return cancelled

    # -- server events in -----------------------------------------------------------------------------
    async def _dispatch(self, event: Any) -> None:
        """Hand one item from the session client to its handler: a server event, or a client notice.

        Total: an event the service cannot use (a wrong or missing field) is logged once per type and
        field, reported upstream as a non-fatal ``ErrorFrame``, and the session goes on. Handlers read
        what they need before they act, so a bad event changes nothing. An event that comes again with
        the same ``event_id`` is skipped (see :class:`RepeatedEvents`).
        """
        if isinstance(event, ClientNotice):
            await _NOTICE_HANDLERS[type(event)](self, event)
            return
        event_id = getattr(event, "event_id", None)
        if self._repeats.seen_before(event_id if isinstance(event_id, str) else None):
            logger.debug("%s: %s %s came again; skipped", self, getattr(event, "type", "?"), event_id)
            return
        kind = self.dialect.kind_of(getattr(event, "type", ""))
        handler = _SERVER_EVENT_HANDLERS.get(kind) if kind is not None else None
        if handler is None:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s: %s", self, getattr(event, "type", type(event).__name__))
            return
        try:
            await handler(self, event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._report_bad_event(str(getattr(event, "type", "?")), exc)

    async def _report_bad_event(self, kind: str, exc: Exception) -> None:
        """Log (once per event type and field) and report an event that could not be used; never its body."""
        if isinstance(exc, BadFieldError):
            field = exc.field
        elif isinstance(exc, AttributeError):
            field = exc.name or "?"
        else:
            field = type(exc).__name__
        key = (kind, field)
        if key not in _REPORTED_BAD_EVENTS and len(_REPORTED_BAD_EVENTS) < _MAX_REPORTED:
            _REPORTED_BAD_EVENTS.add(key)
            logger.warning("%s: skipped a %s event with a wrong or missing field (%s)", self, kind, field)
        error = ServerError(
            f"the server sent a {kind} event with a wrong or missing field ({field}); skipped",
            code="invalid_server_event",
            recoverable=True,
        )
        await self.push_error(str(error), exception=error)

    async def _close_answer(self) -> None:
        """End the open answer's frames (``TTSStoppedFrame``, ``LLMFullResponseEndFrame``) and its state."""
        answer = self._answer
        if answer.stop_audio():
            await self.push_frame(TTSStoppedFrame())
        if answer.open:
            self._finished.end_response(answer.response_id)
            answer.finish()
            await self.stop_processing_metrics()
            await self.push_frame(LLMFullResponseEndFrame())

    async def _on_reconnected(self, notice: Reconnected) -> None:
        """The new session is up: send the audio held while down, and the answer still owed."""
        logger.info("%s: reconnected (%s, attempt %d)", self, notice.reason.value, notice.attempts)
        for chunk in self._outage.take_held():
            self._append_audio(chunk)
        if self._outage.owed_response:
            self._outage.owed_response = False
            self._responses.request()

    async def _on_connection_lost(self, notice: ConnectionLost) -> None:
        """The link is gone (with its server session): close the answer in flight and start afresh.

        The answer's frames are balanced (the aggregators settle, the next answer starts cleanly), its
        items are forgotten (a later barge-in must not truncate an item of the dead session), and an
        answer that was asked for and not heard at all is asked for again once the link is back.
        """
        logger.warning("%s: connection lost (code %s); %s", self, notice.code, notice.next.value)
        answer, responses = self._answer, self._responses
        owed = responses.queued > 0 or responses.state is ResponseState.REQUESTED
        # An answer whose question's words had not come back: the question goes to the new session again
        # (SentAudio), which answers it anew; the cut answer is not replayed before it.
        asked_again = self._sent_audio.answered_unheard
        if answer.open and not asked_again:
            self._outage.cut_answer = "".join(answer.text_parts).strip()
            owed = owed or not answer.heard
        # The user's audio that died with the session's buffer goes to the next one (see SentAudio); a
        # commit of ours that went with it is made again there (unless it is still queued in the client,
        # which sends it to the new session itself), and its answer asked for again.
        client = self._client
        still_queued = client.pending_of("input_audio_buffer.append") if client is not None else 0
        commit_queued = client is not None and client.pending_of("input_audio_buffer.commit") > 0
        recommit = self._sent_audio.commit_untaken and not commit_queued
        encoder, turn = self._encoder, self._turn  # a turn gone silent holds no words: only the last
        now = asyncio.get_running_loop().time()  # moments go again, and the new session never ends it
        given_up = turn.gone_silent(now, encoder.sent_ms, encoder.quiet_ms)
        speaking = turn.holds_words(now, encoder.sent_ms, encoder.quiet_ms)
        told_end_ms = self._sent_audio.told_turn_end_ms()  # (before the kept audio is handed on)
        self._outage.unheard, unheard_ms = self._sent_audio.for_new_session(still_queued, speaking)
        self._outage.unheard_resent_ms += unheard_ms
        self._outage.recommit_ms = unheard_ms if recommit and unheard_ms else None
        answer_queued = client is not None and client.pending_of("response.create") > 0
        owed = owed or (self._outage.recommit_ms is not None and not answer_queued)
        self._outage.owed_response = self._outage.owed_response or owed
        await self._close_answer()
        self._answer = AnswerAudio()
        # What the pipeline was told of the user goes on: a turn that holds words is heard again by the new
        # session, which is not a new turn for the pipeline (see UserTurn.carried_over).
        self._turn = turn.carried_over(speaking, told_end_ms)
        if given_up:
            await self._end_turn_given_up()
        responses.reset()  # (the encoder is not reset: what it gathers is the next audio of the stream)
        self._items.clear()
        self._sync_pending = False  # the replay brings the server in step
        self._outage.handled()

    async def _on_malformed_frame(self, notice: MalformedFrame) -> None:
        logger.warning(
            "%s: skipped a malformed server frame (%d bytes, %s)", self, notice.size, notice.error.code
        )
        await self.push_error(f"skipped a malformed server frame: {notice.error}", exception=notice.error)

    async def _on_session(self, event: SessionEvent) -> None:
        if not isinstance(event.session, ProtocolModel):
            raise BadFieldError("session")
        session = self.dialect.flat_session(event.session)
        self._server_session = session
        if self._session_properties.output_audio_format is None and session.output_audio_format:
            self._decoder = _decoder(session.output_audio_format)
        wanted = self._session_properties.input_audio_format
        if wanted is None and session.input_audio_format not in (None, self._encoder.audio_format):
            self._encoder = _encoder(session.input_audio_format, self._encoder)
            self._sent_audio.forget()

    async def _on_speech_started(self, event: beta.InputAudioBufferSpeechStartedEvent) -> None:
        now = asyncio.get_running_loop().time()
        audio_start_ms = _ms(getattr(event, "audio_start_ms", None))
        tell = self._turn.started(self._encoder.sent_ms, now, audio_start_ms)
        setting = self._effective("turn_detection")
        server_interrupts = getattr(setting, "interrupt_response", None) is not False
        # A start the pipeline knows of already (a new session hearing a turn again) interrupted what was
        # playing when it was told; it interrupts only an answer that started since.
        if self.interruptions_allowed and server_interrupts and (tell or self._answer.open):
            await self.cancel_function_calls()  # this interruption never passes through process_frame
            await self._interrupt_answer(StartInterruptionFrame(), FrameDirection.DOWNSTREAM, cancel=False)
        if not tell:
            logger.debug("%s: speech_started of a turn the pipeline knows of; not told again", self)
            return
        await self.push_frame(UserStartedSpeakingFrame())
        await self.push_frame(UserStartedSpeakingFrame(), FrameDirection.UPSTREAM)

    async def _on_speech_stopped(self, event: beta.InputAudioBufferSpeechStoppedEvent) -> None:
        self._turn.stopped(asyncio.get_running_loop().time())
        self._sent_audio.speech_stopped(_ms(getattr(event, "audio_end_ms", None)))
        if not self._turn.take_stop():
            # the turn's end was told already (the service gave up on it: see _end_turn_given_up), or the
            # server never said it started: the pipeline is not told the user stopped twice
            logger.debug("%s: speech_stopped for a turn the pipeline saw end; not told again", self)
            return
        await self.start_ttfb_metrics()
        await self._push_user_stopped()

    async def _push_user_stopped(self, *, emulated: bool = False) -> None:
        """Tell the pipeline the user stopped speaking (both ways: the user aggregator sits upstream)."""
        await self.push_frame(StopInterruptionFrame())
        await self.push_frame(UserStoppedSpeakingFrame(emulated=emulated))
        await self.push_frame(UserStoppedSpeakingFrame(emulated=emulated), FrameDirection.UPSTREAM)

    async def _end_turn_given_up(self) -> None:
        """A turn the server's VAD opened went silent (see :class:`UserTurn`) and was let go with its
        session, or (no age rotation) has been quiet too long to be waited for: no ``speech_stopped`` is
        to be counted on for it, so the pipeline's aggregators and observers would stay in "user speaking".
        They get the end a ``speech_stopped`` would have brought, once, marked ``emulated`` (no VAD heard
        it); no answer is due (the turn held no words), so no TTFB is started."""
        if self._turn.take_stop():
            logger.info("%s: the server never ended the user's silent turn; it ends here", self)
            await self._push_user_stopped(emulated=True)

    async def _on_item_added(self, event: ItemEvent) -> None:
        await self._remember_item(event.item, "on_conversation_item_created")

    async def _on_item_retrieved(self, event: RetrievedEvent) -> None:
        item = event.item
        if item.id:
            self._items[item.id] = item
            self._retrievals.resolve(item.id, item)

    async def _on_item_truncated(self, event: beta.ConversationItemTruncatedEvent) -> None:
        item = self._items.get(event.item_id)
        await self._call_event_handler("on_conversation_item_updated", event.item_id, item)

    async def _on_item_deleted(self, event: beta.ConversationItemDeletedEvent) -> None:
        self._items.pop(event.item_id, None)
        await self._call_event_handler("on_conversation_item_updated", event.item_id, None)

    async def _on_transcription_delta(
        self, event: beta.ConversationItemInputAudioTranscriptionDeltaEvent
    ) -> None:
        if self._send_transcription_frames and event.delta:
            delta = event.delta
            await self._push_both_ways(
                lambda: InterimTranscriptionFrame(text=delta, user_id="", timestamp=_now())
            )

    async def _on_transcription_completed(
        self, event: beta.ConversationItemInputAudioTranscriptionCompletedEvent
    ) -> None:
        self._sent_audio.turn_taken()
        item = self._items.get(event.item_id)
        if item is not None and item.content:
            item.content[min(event.content_index, len(item.content) - 1)].transcript = event.transcript
        if self._send_transcription_frames:
            await self._push_both_ways(
                lambda: TranscriptionFrame(text=event.transcript, user_id="", timestamp=_now(), result=event)
            )
        await self._call_event_handler("on_conversation_item_updated", event.item_id, item)

    async def _on_transcription_failed(
        self, event: beta.ConversationItemInputAudioTranscriptionFailedEvent
    ) -> None:
        self._sent_audio.turn_taken()  # its words will not come: sending it again would not bring them
        error = event.error
        logger.warning("%s: input transcription failed (%s)", self, error.code or error.type)
        await self.push_error(f"input transcription failed: {self._redact(error.message or '')}")

    async def _on_response_created(self, event: ResponseEvent) -> None:
        response_id = event.response.id
        if response_id is not None and response_id == self._answer.response_id:
            logger.debug("%s: response.created for %s again; ignored", self, response_id)
            return
        if self._answer.open:  # a start without the end of the one before: close that one first
            await self._close_answer()
        self._responses.created(event.response.id)
        self._turn.answered()
        transcribed = self._effective("input_audio_transcription") is not None
        self._sent_audio.answer_started(transcribed=transcribed)  # the question is safe once its words come
        self._answer.begin(event.response.id)
        await self.start_processing_metrics()
        await self.push_frame(LLMFullResponseStartFrame())

    async def _on_output_item_added(self, event: ItemEvent) -> None:
        if event.item.id:
            self._items[event.item.id] = event.item

    async def _on_audio_delta(self, event: AudioDeltaEvent) -> None:
        if not isinstance(event.delta, str):
            raise BadFieldError("delta")
        if self._finished.replayed("audio", *_part_of(event)):
            logger.debug("%s: audio of %s after its end (a replay); dropped", self, event.response_id)
            return
        try:
            pcm = self._decoder.decode(event.delta)
        except ServerError as exc:
            await self.push_error(str(exc), exception=exc)
            return
        answer = self._answer
        if answer.truncated and event.item_id == answer.item_id:
            return  # audio of the item the user talked over, sent before the server heard the cancel
        if not answer.audio_started:
            await self.stop_ttfb_metrics()
            answer.start_audio(event.item_id, asyncio.get_running_loop().time())
            await self.push_frame(TTSStartedFrame())
        answer.add_audio(event.item_id, self._decoder.duration_ms(pcm))
        await self.push_frame(TTSAudioRawFrame(audio=pcm, sample_rate=self._decoder.sample_rate))

    async def _on_audio_done(self, event: AudioDoneEvent) -> None:
        self._finished.end_part("audio", *_part_of(event)[1:])
        if self._answer.stop_audio():
            await self.push_frame(TTSStoppedFrame())

    async def _on_text_delta(self, event: TextDeltaEvent) -> None:
        delta = event.delta
        if not isinstance(delta, str):
            raise BadFieldError("delta")
        if self._finished.replayed("text", *_part_of(event)):
            logger.debug("%s: text of %s after its end (a replay); dropped", self, event.response_id)
            return
        answer = self._answer
        if not answer.text_started:
            answer.text_started = True
            if not answer.audio_started:
                await self.stop_ttfb_metrics()
        if delta:
            answer.text_parts.append(delta)
            await self.push_frame(LLMTextFrame(text=delta))

    async def _on_text_done(self, event: TextDoneEvent) -> None:
        self._finished.end_part("text", *_part_of(event)[1:])

    async def _on_function_call_done(self, event: beta.ResponseFunctionCallArgumentsDoneEvent) -> None:
        if event.call_id in self._calls_in_flight:
            logger.debug("%s: function call %s announced again; ignored", self, event.call_id)
            return
        try:
            arguments = json.loads(event.arguments or "{}")
        except json.JSONDecodeError:
            arguments = {"_raw": event.arguments}
            logger.warning("%s: function call %s has arguments that are not JSON", self, event.name)
        call = FunctionCallFromLLM(
            function_name=event.name or "",
            tool_call_id=event.call_id,
            arguments=arguments,
            context=self._context,
        )
        self._answer.function_calls += 1
        self._calls_in_flight.add(call.tool_call_id)
        await self.run_function_calls([call])

    async def _on_item_done(self, event: ItemEvent) -> None:
        await self._remember_item(event.item, "on_conversation_item_updated")

    async def _remember_item(self, item: AnyConversationItem, announce_as: str) -> None:
        """Keep the server's latest version of an item and tell the ``announce_as`` event handlers."""
        if item.id:
            known = isinstance(self._items.get(item.id), ProtocolModel)  # our own items wait as dicts
            self._items[item.id] = item
            if known and announce_as == "on_conversation_item_created":
                return  # the event came twice: announced once
            await self._call_event_handler(announce_as, item.id, item)

    async def _on_response_done(self, event: ResponseEvent) -> None:
        response = event.response
        response_id = response.id  # read before acting: a done without a response changes nothing
        if not self._answer.open or response_id != self._answer.response_id:
            logger.debug("%s: response.done for %s, not the open response; ignored", self, response_id)
            return
        await self._close_answer()
        self._sent_audio.answer_heard()
        usage = response.usage
        if usage is not None and self.usage_metrics_enabled:
            await self.push_frame(self._metrics.usage(_token_usage(usage)))
        details = response.status_details
        if response.status == "failed":
            error = getattr(details, "error", None)
            message = self._redact(getattr(error, "message", None) or "the response failed")
            await self.push_error(f"response {response.id} failed: {message}")
        if self._sync_pending:  # a context change waited for this response; it goes before the next one
            self._sync_conversation()
        self._responses.done(response.id)
        await self._rotate_if_old()

    async def _rotate_if_old(self, limit: float | None = None) -> None:
        """At a safe point, start a fresh session once this one reached ``limit`` (``max_session_age_s``).

        Safe: no answer or function call in flight, and no turn of the user's open (see :class:`UserTurn`:
        a turn the server's VAD opened and left open through ``SILENT_TURN_MS`` of near-silence is not).
        """
        limit = self._max_session_age_s if limit is None else limit
        client = self._client
        if limit is None or client is None or self._responses.in_progress or self._calls_in_flight:
            return
        now = asyncio.get_running_loop().time()
        turn, encoder = self._turn, self._encoder
        if not turn.settled(now, TURN_SETTLE_S, encoder.sent_ms, encoder.quiet_ms):
            return  # the user is mid-turn: the server's buffer holds their words; the answer's end rotates
        if now - self._session_started_at >= limit:
            if turn.state is Listening.SPEAKING:
                logger.info(
                    "%s: the user's turn has been quiet (%.0f ms of near-silent audio at the end, nothing"
                    " louder sent for %.1f s) and the server never ended it; rotating anyway",
                    self,
                    encoder.quiet_ms,
                    now - max(turn.started_at, turn.loud_at),
                )
            await client.rotate(f"the session is older than {limit:g} s")

    async def _rotate_when_idle_and_old(self, max_age_s: float) -> None:
        """The session-age task: rotate a session that grew old while idle (no answer ends to do it)."""
        limit = max(max_age_s, MIN_IDLE_ROTATION_AGE_S)
        loop = asyncio.get_running_loop()
        while True:
            due = self._session_started_at + limit  # moves on at each new session (_on_connected)
            await asyncio.sleep(max(due - loop.time(), IDLE_ROTATION_CHECK_S))
            await self._rotate_if_old(limit)

    async def _end_silent_turns(self) -> None:
        """End, for the pipeline, a server turn that went silent and will not end.

        With ``max_session_age_s`` the rotation gives such a turn up with its session, but only once the
        session is that old (minutes, often); without it nothing ever would: a stuck VAD or a lost
        ``speech_stopped`` left the aggregators and observers in "user speaking" for the rest of the call.
        So once the turn has gone silent (the same test the rotation uses, :meth:`UserTurn.gone_silent`)
        the pipeline gets its emulated ``UserStoppedSpeakingFrame``, once; the session goes on (nothing of
        the user's is lost: a server that ends the turn late still commits it and answers, and that
        ``speech_stopped`` is not told again). The turn stays open for the service: a user heard louder
        again in it holds their words as before.
        """
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SILENT_TURN_CHECK_S)
            turn, encoder = self._turn, self._encoder
            if turn.stop_owed and turn.gone_silent(loop.time(), encoder.sent_ms, encoder.quiet_ms):
                await self._end_turn_given_up()

    async def _on_rate_limits(self, event: beta.RateLimitsUpdatedEvent) -> None:
        self.rate_limits = list(event.rate_limits or [])

    async def _on_error(self, event: beta.ErrorEvent) -> None:
        verdict = classify_error(event)
        message = self._redact(verdict.message)  # a server may echo what it was sent, a key included
        if verdict.event_id and self._retrievals.fail(verdict.event_id, message):
            return
        if verdict.rotate:
            # The session hit its time limit: the client rotates to a fresh one (or ends the stream with
            # SessionExpiredError when rotation is off, which _receive reports as fatal).
            logger.info("%s: the server session expired; rotating to a new one", self)
            return
        if verdict.code == "conversation_already_has_active_response":
            self._responses.rejected()
        if verdict.code in BENIGN_ERROR_CODES:
            logger.warning("%s: server rejected a request (%s): %s", self, verdict.code, message)
            return
        logger.log(
            logging.ERROR if verdict.fatal else logging.WARNING,
            "%s: server error %s: %s",
            self,
            verdict.code,
            message,
        )
        if verdict.fatal:
            await self._close_answer()  # the session ends here: the answer in flight ends with it
        exc = ServerError(
            message, code=verdict.code, recoverable=verdict.recoverable, retryable=verdict.retryable
        )
        await self.push_frame(
            ErrorFrame(
                error=f"{verdict.code}: {message}", fatal=verdict.fatal, exception=exc, processor=self
            ),
            FrameDirection.UPSTREAM,
        )

    async def _push_both_ways(self, make: Callable[[], Frame]) -> None:
        """Push a fresh frame each way: downstream for the pipeline, upstream for the user aggregator."""
        await self.push_frame(make())
        await self.push_frame(make(), FrameDirection.UPSTREAM)


_SERVER_EVENT_HANDLERS: dict[EventKind, ServerEventHandler] = {
    EventKind.SESSION_CREATED: RealtimeLLMService._on_session,
    EventKind.SESSION_UPDATED: RealtimeLLMService._on_session,
    EventKind.SPEECH_STARTED: RealtimeLLMService._on_speech_started,
    EventKind.SPEECH_STOPPED: RealtimeLLMService._on_speech_stopped,
    EventKind.ITEM_ADDED: RealtimeLLMService._on_item_added,
    EventKind.ITEM_DONE: RealtimeLLMService._on_item_done,
    EventKind.ITEM_RETRIEVED: RealtimeLLMService._on_item_retrieved,
    EventKind.ITEM_TRUNCATED: RealtimeLLMService._on_item_truncated,
    EventKind.ITEM_DELETED: RealtimeLLMService._on_item_deleted,
    EventKind.TRANSCRIPTION_DELTA: RealtimeLLMService._on_transcription_delta,
    EventKind.TRANSCRIPTION_COMPLETED: RealtimeLLMService._on_transcription_completed,
    EventKind.TRANSCRIPTION_FAILED: RealtimeLLMService._on_transcription_failed,
    EventKind.RESPONSE_CREATED: RealtimeLLMService._on_response_created,
    EventKind.OUTPUT_ITEM_ADDED: RealtimeLLMService._on_output_item_added,
    EventKind.AUDIO_DELTA: RealtimeLLMService._on_audio_delta,
    EventKind.AUDIO_DONE: RealtimeLLMService._on_audio_done,
    EventKind.TRANSCRIPT_DELTA: RealtimeLLMService._on_text_delta,
    EventKind.TEXT_DELTA: RealtimeLLMService._on_text_delta,
    EventKind.TRANSCRIPT_DONE: RealtimeLLMService._on_text_done,
    EventKind.TEXT_DONE: RealtimeLLMService._on_text_done,
    EventKind.FUNCTION_CALL_ARGUMENTS_DONE: RealtimeLLMService._on_function_call_done,
    EventKind.OUTPUT_ITEM_DONE: RealtimeLLMService._on_item_done,
    EventKind.RESPONSE_DONE: RealtimeLLMService._on_response_done,
    EventKind.RATE_LIMITS_UPDATED: RealtimeLLMService._on_rate_limits,
    EventKind.ERROR: RealtimeLLMService._on_error,
}
"""Server event kind -> the handler method; kinds not listed are logged at debug and ignored."""

_NOTICE_HANDLERS: dict[type[ClientNotice], ServerEventHandler] = {
    Reconnected: RealtimeLLMService._on_reconnected,
    ConnectionLost: RealtimeLLMService._on_connection_lost,
    MalformedFrame: RealtimeLLMService._on_malformed_frame,
}
"""What the session client itself reports (not the server) -> the handler method."""


class BadFieldError(ServerError):
    """A field of a server event has a value the service cannot use; the event is skipped."""

    def __init__(self, field: str) -> None:
        super().__init__(
            f"a server event has a wrong {field!r}", code="invalid_server_event", recoverable=True
        )
        self.field = field


_REPORTED_BAD_EVENTS: set[tuple[str, str]] = set()
_MAX_REPORTED = 256


def _token_usage(usage: beta.Usage) -> LLMTokenUsage:
    inp = usage.input_token_details
    out = usage.output_token_details
    return LLMTokenUsage(
        prompt_tokens=usage.input_tokens or 0,
        completion_tokens=usage.output_tokens or 0,
        total_tokens=usage.total_tokens or 0,
        cache_read_input_tokens=(inp.cached_tokens or 0) if inp else 0,
        prompt_audio_tokens=(inp.audio_tokens or 0) if inp else 0,
        prompt_text_tokens=(inp.text_tokens or 0) if inp else 0,
        completion_audio_tokens=(out.audio_tokens or 0) if out else 0,
        completion_text_tokens=(out.text_tokens or 0) if out else 0,
    )


def _part_of(event: Any) -> tuple[str | None, str | None, int | None]:
    """The response, item and content index an output event is about (None where a field is missing)."""
    return (
        getattr(event, "response_id", None),
        getattr(event, "item_id", None),
        getattr(event, "content_index", None),
    )


def _ms(value: Any) -> float | None:
    """A server event's position in ms (``audio_start_ms``, ``audio_end_ms``) as a number, None when it is
    missing or not a finite number (events parse loosely: a wrong field must change nothing)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _now() -> str:
    return datetime.now(UTC).isoformat()

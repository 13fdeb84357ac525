"""``OpenAIRealtimeBetaLLMService``: a speech-to-speech model over the OpenAI Realtime (beta) protocol.

The service is a thin adapter between the pipeline and :class:`~voxpipe.realtime.client.RealtimeClient`:
frames going in become client events (audio appends, commits, items, responses, session updates), and
server events coming back become frames (the answer's audio and transcript, the user's transcript,
speaking and interruption frames, metrics, errors). How each server event is handled lives in
``voxpipe/services/_realtime_service/server_events.py``; this module is the frame side and the lifecycle.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any

from voxpipe.errors import VoxpipeStateError, VoxpipeWorldError
from voxpipe.frames.audio import InputAudioRawFrame, PlaybackPositionFrame
from voxpipe.frames.control import CancelFrame, EndFrame, ErrorFrame, StartFrame
from voxpipe.frames.llm import (
    FunctionCallResultFrame,
    LLMContextFrame,
    LLMMessagesAppendFrame,
    LLMSetToolsFrame,
    LLMUpdateSettingsFrame,
)
from voxpipe.frames.speech import StartInterruptionFrame, UserStoppedSpeakingFrame
from voxpipe.processors.frame_processor import FrameDirection, frame_handler
from voxpipe.realtime import (
    ConversationItem,
    ConversationItemCreateEvent,
    InputAudioBufferAppendEvent,
    InputAudioBufferCommitEvent,
    ResponseCancelEvent,
    ResponseCreateEvent,
    Session,
    SessionProperties,
    SessionUpdateEvent,
)
from voxpipe.realtime.client import (
    ClientState,
    ConnectReason,
    RealtimeClientConfig,
    RealtimeVariant,
    ReconnectPolicy,
    redact,
)
from voxpipe.services._realtime_service.codecs import decoder as _decoder
from voxpipe.services._realtime_service.codecs import encoder as _encoder
from voxpipe.services._realtime_service.interruptions import PlaybackReports, forget_unheard
from voxpipe.services._realtime_service.items import function_output, messages_to_items
from voxpipe.services._realtime_service.responses import ResponseTracker
from voxpipe.services._realtime_service.server_events import handle_server_event
from voxpipe.services._realtime_service.state import AnswerAudio, PendingRetrievals
from voxpipe.services._realtime_service.tools import merge_settings, session_for_wire
from voxpipe.services.llm_service import LLMService

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.realtime.client import ConnectionInfo, RealtimeClient

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_MODEL", "OpenAIRealtimeBetaLLMService"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-realtime-preview-2025-06-03"
DEFAULT_BASE_URL = "wss://api.openai.com/v1/realtime"


class OpenAIRealtimeBetaLLMService(LLMService):
    """Speech in, speech out, through a Realtime-protocol server (OpenAI's beta shape).

    Args:
        api_key: the key; defaults to the ``OPENAI_API_KEY`` environment variable (local servers may
            need none).
        model: the speech-to-speech model.
        base_url: the WebSocket endpoint; ``?model=`` is added to it.
        session_properties: the session settings sent on connect (and again after a reconnect).
        start_audio_paused: drop input audio until :meth:`set_audio_input_paused` ``(False)``.
        send_transcription_frames: push the user's transcripts as ``TranscriptionFrame``\\ s (and
            ``InterimTranscriptionFrame``\\ s for deltas), when the session transcribes input audio.
        reconnect: how to come back after a dropped socket.

    Events: ``on_conversation_item_created(service, item_id, item)`` and
    ``on_conversation_item_updated(service, item_id, item_or_None)``.
    """

    _variant = RealtimeVariant.OPENAI_BETA

    def __init__(
        self,
        *,
        api_key: str | None = None,
        model: str = DEFAULT_MODEL,
        base_url: str = DEFAULT_BASE_URL,
        session_properties: SessionProperties | None = None,
        start_audio_paused: bool = False,
        send_transcription_frames: bool = True,
        reconnect: ReconnectPolicy | None = None,
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
        self._items: dict[str, ConversationItem] = {}
        self._calls_in_flight: set[str] = set()  # dispatched calls whose result the model has not got
        self._context: Any = None
        self._playback = PlaybackReports()
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
        """The session as the server last reported it."""
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
            self._encoder = _encoder(self._session_properties.input_audio_format)
        if "output_audio_format" in fields:
            self._decoder = _decoder(self._session_properties.output_audio_format)
        changed = {name: getattr(self._session_properties, name) for name in fields}
        self._send(self._session_update_event(SessionProperties(**changed)))

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self, frame: StartFrame) -> None:
        """Connect, send the session settings, and start reading server events."""
        await super().start(frame)
        from voxpipe.realtime.client import RealtimeClient  # websockets loads here, not at import

        self._client = RealtimeClient(self._client_config(), on_connected=self._on_connected)
        try:
            await self._client.connect()
        except VoxpipeWorldError as exc:
            await self._fail(f"could not connect to the realtime server: {exc}", exc)
            return
        self.create_task(self._receive(), name="receive")

    def _client_config(self) -> RealtimeClientConfig:
        """Where and how to connect; variants (Azure) override it."""
        return RealtimeClientConfig(
            api_key=self._api_key,
            variant=self._variant,
            base_url=self._base_url,
            model=self.model_name,
            reconnect=self._reconnect,
        )

    # -- the protocol shape (the GA service overrides these) -------------------------------------------
    _event_aliases: dict[str, str] = {}
    """Server event names of another shape, mapped to the beta names the handlers are keyed by."""

    def _session_update_event(self, properties: SessionProperties) -> Any:
        """The ``session.update`` that carries ``properties``."""
        return SessionUpdateEvent(session=session_for_wire(properties))

    def _item_create_event(self, item: dict[str, Any]) -> Any:
        """The ``conversation.item.create`` that adds ``item`` (a wire dict)."""
        return ConversationItemCreateEvent(item=ConversationItem(**item))

    def _history_items(self, messages: Any) -> list[dict[str, Any]]:
        """Chat messages as conversation items of this protocol shape."""
        return messages_to_items(messages)

    async def stop(self, frame: EndFrame) -> None:
        """Close the session after the frames before the EndFrame were handled."""
        await super().stop(frame)
        await self._disconnect()

    async def cancel(self, frame: CancelFrame) -> None:
        """Close the session now."""
        await super().cancel(frame)
        await self._disconnect()

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def _on_connected(self, connection: ConnectionInfo) -> None:
        """Runs on every (re)connection, before queued events: settings first, then the history."""
        await connection.send(self._session_update_event(self._session_properties))
        if connection.reason is not ConnectReason.INITIAL:
            self._responses.reset()
            if self._context is not None:
                for item in self._history_items(self._context.get_messages()):
                    await connection.send(self._item_create_event(item))

    def _on_connection_lost(self) -> None:
        self._encoder.reset()
        self._responses.reset()

    async def _receive(self) -> None:
        client = self._client
        assert client is not None
        try:
            async for event in client:
                await handle_server_event(self, event)
        except VoxpipeWorldError as exc:
            await self._fail(f"the realtime session ended: {exc}", exc)

    async def _fail(self, message: str, exc: BaseException) -> None:
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

    def _on_server_session(self, session: Session) -> None:
        self._server_session = session
        if self._session_properties.output_audio_format is None and session.output_audio_format:
            self._decoder = _decoder(session.output_audio_format)
        wanted = self._session_properties.input_audio_format
        if wanted is None and session.input_audio_format not in (None, self._encoder.audio_format):
            self._encoder = _encoder(session.input_audio_format)

    # -- frames in ------------------------------------------------------------------------------------
    @frame_handler(InputAudioRawFrame)
    async def _on_input_audio(self, frame: InputAudioRawFrame, direction: FrameDirection) -> None:
        client = self._client
        if self._audio_paused or client is None or client.state is not ClientState.CONNECTED:
            return  # audio of a dropped link belongs to no session: it is not replayed into the next one
        for chunk in self._encoder.push(frame.audio, frame.sample_rate, frame.num_channels):
            self._send(InputAudioBufferAppendEvent(audio=chunk))

    @frame_handler(StartInterruptionFrame)
    async def _on_start_interruption(self, frame: StartInterruptionFrame, direction: FrameDirection) -> None:
        await self._interrupt_answer(frame, direction, cancel=not self.turn_detection_enabled)

    @frame_handler(UserStoppedSpeakingFrame)
    async def _on_user_stopped(self, frame: UserStoppedSpeakingFrame, direction: FrameDirection) -> None:
        if not self.turn_detection_enabled and direction is FrameDirection.DOWNSTREAM:
            for chunk in self._encoder.flush():
                self._send(InputAudioBufferAppendEvent(audio=chunk))
            self._send(InputAudioBufferCommitEvent())
            await self.start_ttfb_metrics()
            self._responses.request()
        await self.push_frame(frame, direction)

    @frame_handler(PlaybackPositionFrame)
    async def _on_playback_position(self, frame: PlaybackPositionFrame, direction: FrameDirection) -> None:
        self._playback.report(frame.position_ms)
        await self.push_frame(frame, direction)

    @frame_handler(LLMMessagesAppendFrame)
    async def _on_messages_append(self, frame: LLMMessagesAppendFrame, direction: FrameDirection) -> None:
        for item in self._history_items(frame.messages):
            self._send(self._item_create_event(item))
        if self._context is not None:
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
        if self._context is not None:
            logger.debug("%s: context updated locally; the server keeps its own conversation", self)
            return
        self._context = frame.context
        await self._apply_context(frame.context)

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
        for item in self._history_items(context.get_messages()):
            self._send(self._item_create_event(item))
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

    # -- responses and items --------------------------------------------------------------------------
    def _send_response_create(self, overrides: dict[str, Any] | None) -> None:
        self._send(ResponseCreateEvent(response=overrides) if overrides else ResponseCreateEvent())

    def request_response(self, **overrides: Any) -> None:
        """Ask the model to answer now (queued if a response is in progress); overrides go in ``response``."""
        self._responses.request(overrides or None)

    async def retrieve_conversation_item(self, item_id: str, timeout: float = 5.0) -> ConversationItem:
        """Ask the server for a conversation item and return it.

        Raises:
            ItemNotFoundError: the server has no such item.
            OperationTimeoutError: no answer within ``timeout`` seconds.
            VoxpipeStateError: the service is not connected.
        """
        if self._client is None:
            raise VoxpipeStateError(f"{self}: not connected; retrieve items while the pipeline runs")
        item: ConversationItem = await self._retrievals.retrieve(item_id, self._send, timeout, owner=self)
        return item

    async def on_function_call_result(self, frame: FunctionCallResultFrame) -> None:
        """Give the model a function's result, then let it answer (unless ``run_llm`` is False)."""
        output = function_output(frame.result)
        item = {"type": "function_call_output", "call_id": frame.tool_call_id, "output": output}
        self._send(self._item_create_event(item))
        self._calls_in_flight.discard(frame.tool_call_id)
        if frame.run_llm is not False and not self._calls_in_flight:
            self._responses.request()  # answer once, after the last result of the calls in flight

    async def cancel_function_calls(self, *, interruptible_only: bool = True) -> list[str]:
        """Cancel running calls; a cancelled call sends no result, so no answer waits for it."""
        cancelled = await super().cancel_function_calls(interruptible_only=interruptible_only)
        self._calls_in_flight.difference_update(cancelled)
        return cancelled

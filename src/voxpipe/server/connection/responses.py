"""One response: LLM stream -> sentences -> TTS stream -> audio deltas, as an owned, cancellable task.

``ResponseRun.run`` sends ``response.created``, runs the generation, then sends the closing events and
``response.done`` whatever happened (completed, cancelled by the client or by barge-in, cut at
``max_output_tokens``, or failed in an engine). Cancelling is prompt: ``cancel`` cancels the task, which
stops the LLM and TTS generators at their next ``await`` (``closing`` closes them), and no delta is sent
after that; ``run`` then takes the cancellation back and finishes the response.

Inside the generation the LLM and the TTS run side by side: text deltas go out at once (as transcript
or text deltas), each piece cut by ``SpeechChunker`` goes to a speaker task that streams its audio. The
order of events follows the protocol reference, section 9.2 (audio) and 9.5 (function calls). Both loops
wait for room in the session's outgoing queue before each piece, so a client that reads slowly slows its
response down instead of growing the server's memory.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from typing import Any, Protocol

from voxpipe.realtime import ContentPart, ServerEventBase, new_event_id
from voxpipe.realtime.dialect import EventKind
from voxpipe.server.connection.audio_codec import AudioEncoder
from voxpipe.server.connection.conversation import (
    Conversation,
    Item,
    ItemKind,
    Part,
    PartKind,
)
from voxpipe.server.connection.errors import ProtocolError
from voxpipe.server.connection.playback import Playback
from voxpipe.server.connection.response_source import EngineSource, ResponseSource, llm_request
from voxpipe.server.connection.settings import ItemReference, ResponseRequest
from voxpipe.server.connection.speech_chunks import SpeechChunker
from voxpipe.server.connection.state import ResponseState, check_move
from voxpipe.server.connection.streams import closing
from voxpipe.server.connection.wire import UsageCounts, WireRenderer
from voxpipe.server.engines.registry import Engines
from voxpipe.server.engines.types import LLMItem, TextDelta, ToolCall, Usage

__all__ = ["ResponseHost", "ResponseRun"]

logger = logging.getLogger(__name__)


class ResponseHost(Protocol):
    """What a response needs from its session."""

    wire: WireRenderer
    engines: Engines
    conversation: Conversation

    def send(self, event: ServerEventBase) -> None:
        """Queue an event for the client, in order."""

    async def outgoing_room(self) -> None:
        """Wait while the client is behind (back-pressure: generation pauses, it never runs ahead)."""


class _MessageOutput:
    """The assistant message being produced: its item, its part and (for audio) its speaker."""

    def __init__(self, item: Item, part: Part, index: int) -> None:
        self.item = item
        self.part = part
        self.index = index
        self.chunker = SpeechChunker()
        self.sentences: asyncio.Queue[str | None] = asyncio.Queue()
        self.speaker: asyncio.Task[None] | None = None


class ResponseRun:
    """One response of a session (see the module docstring).

    Args:
        host: the session.
        request: settings and options of this response.
        on_finished: called once, after ``response.done`` was queued.
        source: where the model output comes from (the engines by default; a speculation for a turn
            that was answered during its pause).
    """

    def __init__(
        self,
        host: ResponseHost,
        request: ResponseRequest,
        on_finished: Callable[[ResponseRun], None],
        source: ResponseSource | None = None,
    ) -> None:
        self.id = _new_id()
        self._source = source or EngineSource(host.engines, host.engines.fair_share)
        self.playback = Playback()  # what the listener has ahead: later work is scheduled by it
        self._source.listen(self.playback)
        self.request = request
        self._host = host
        self._on_finished = on_finished
        self._state = ResponseState.IN_PROGRESS
        self._output: list[Item] = []
        self._previous: dict[str, str | None] = {}
        self._usage: Usage | None = None
        self._cancel_reason: str | None = None
        self._incomplete = False
        self._error: dict[str, Any] | None = None
        self._task: asyncio.Task[Any] | None = None
        self._words = 0
        self.done = asyncio.Event()

    def __repr__(self) -> str:
        return f"ResponseRun({self.id}, {self._state.value})"

    @property
    def state(self) -> ResponseState:
        """Current status."""
        return self._state

    def _set_state(self, new: ResponseState) -> None:
        check_move(f"response {self.id}", self._state, new)
        self._state = new

    def cancel(self, reason: str) -> bool:
        """Stop generating (``client_cancelled`` or ``turn_detected``); False if already ending."""
        if self._cancel_reason is not None or self._state is not ResponseState.IN_PROGRESS:
            return False
        self._cancel_reason = reason
        if self._task is not None:
            self._task.cancel()  # taken back with uncancel() in run(): the closing events still go out
        return True

    async def run(self) -> None:
        """Produce the whole response and end it with ``response.done`` whatever happens.

        Generation runs in this task (no extra hop before the first delta). ``cancel`` cancels this task and
        ``run`` takes that cancellation back (``Task.uncancel``, as ``asyncio.timeout`` does) once the
        generation has stopped; any other cancellation (the session closing) still ends the response
        cleanly and then propagates.
        """
        host = self._host
        task = asyncio.current_task()
        assert task is not None, "ResponseRun.run must run in a task"
        conversation_id = None if self.request.out_of_band else host.conversation.id
        host.send(
            host.wire.event(
                EventKind.RESPONSE_CREATED,
                response=self._render("in_progress", None, None, conversation_id, self.request.settings),
            )
        )
        outcome: BaseException | None = None
        try:
            if self._cancel_reason is None:
                self._task = task
                await self._generate()
        except asyncio.CancelledError as exc:
            self._task = None
            if self._cancel_reason is None or task.uncancel() > 0:
                self._cancel_reason = self._cancel_reason or "client_cancelled"
                self._finish(conversation_id, ResponseState.CANCELLED, None)
                raise
            outcome = exc
        except Exception as exc:  # an engine failed: the response fails, the session goes on
            outcome = exc
        self._task = None
        if isinstance(outcome, asyncio.CancelledError) or self._cancel_reason is not None:
            self._finish(conversation_id, ResponseState.CANCELLED, None)
        else:
            self._finish(conversation_id, None, outcome)

    def _finish(
        self, conversation_id: str | None, forced: ResponseState | None, error: BaseException | None
    ) -> None:
        details: dict[str, Any] | None = None
        if forced is ResponseState.CANCELLED:
            status = ResponseState.CANCELLED
            details = {"type": "cancelled", "reason": self._cancel_reason or "client_cancelled"}
        elif (refused := _client_error(error)) is not None:
            logger.info("response %s failed: %s", self.id, refused.code)
            status = ResponseState.FAILED
            details = {
                "type": "failed",
                "error": {"type": refused.error_type, "code": refused.code, "message": refused.message},
            }
        elif error is not None:
            logger.error("response %s failed: %s", self.id, type(error).__name__, exc_info=error)
            status = ResponseState.FAILED
            details = {
                "type": "failed",
                "error": {"type": "server_error", "code": "engine_error", "message": "The engine failed."},
            }
        elif self._incomplete:
            status = ResponseState.INCOMPLETE
            details = {"type": "incomplete", "reason": "max_output_tokens"}
        else:
            status = ResponseState.COMPLETED
        item_status = "completed" if status is ResponseState.COMPLETED else "incomplete"
        for item in self._output:
            if item.status == "in_progress":
                self._close_item(item, item_status)
        self._set_state(status)
        host = self._host
        host.send(
            host.wire.event(
                EventKind.RESPONSE_DONE,
                response=self._render(
                    status.value, details, self._counts(), conversation_id, self.request.settings
                ),
            )
        )
        host.send(
            self._host.wire.event(
                EventKind.RATE_LIMITS_UPDATED,
                rate_limits=[
                    {"name": "tokens", "limit": 1_000_000, "remaining": 1_000_000, "reset_seconds": 0.0}
                ],
            )
        )
        self.done.set()
        self._on_finished(self)

    def _render(
        self, status: str, details: Any, usage: UsageCounts | None, conversation_id: str | None, settings: Any
    ) -> Any:
        return self._host.wire.response(
            response_id=self.id,
            status=status,
            status_details=details,
            output=self._output,
            usage=usage,
            conversation_id=conversation_id,
            settings=settings,
            metadata=dict(self.request.metadata) if self.request.metadata is not None else None,
        )

    def _counts(self) -> UsageCounts:
        usage = self._usage or Usage(0, self._words)
        audio_ms = sum(part.audio_ms for item in self._output for part in item.content)
        return UsageCounts(
            input_text=usage.input_tokens,
            cached=usage.cached_tokens,
            output_text=usage.output_tokens,
            output_audio=audio_ms // 50,
        )

    async def _context(self) -> list[LLMItem]:
        if self.request.input_items is None:
            return await self._host.conversation.llm_items()
        items: list[LLMItem] = []
        for entry in self.request.input_items:
            item = self._host.conversation.get(entry.id) if isinstance(entry, ItemReference) else entry
            llm_item = await item.llm_item() if item is not None else None
            if llm_item is not None:
                items.append(llm_item)
        return items

    async def _generate(self) -> None:
        settings = self.request.settings
        request = llm_request(settings, await self._context())
        message: _MessageOutput | None = None
        async with asyncio.TaskGroup() as group, closing(self._source.llm_stream(request)) as chunks:
            async for chunk in chunks:
                await self._host.outgoing_room()
                if isinstance(chunk, TextDelta):
                    if message is None:
                        message = self._open_message(group)
                    self._on_text(message, chunk.text)
                    if settings.max_output_tokens is not None and self._words >= settings.max_output_tokens:
                        self._incomplete = True
                        break
                elif isinstance(chunk, ToolCall):
                    if message is not None:
                        await self._close_message(message)
                        message = None
                    self._on_tool_call(chunk)
                elif isinstance(chunk, Usage):
                    self._usage = chunk
            if message is not None:
                await self._close_message(message)

    def _add_output(self, item: Item) -> int:
        host = self._host
        previous = None
        if not self.request.out_of_band:
            previous = host.conversation.add(item)  # first: an item it refuses is never announced
        index = len(self._output)
        self._output.append(item)
        self._previous[item.id] = previous
        host.send(
            host.wire.event(
                EventKind.OUTPUT_ITEM_ADDED,
                response_id=self.id,
                output_index=index,
                item=host.wire.item(item),
            )
        )
        if not self.request.out_of_band:
            for event in host.wire.item_announced(item, previous):
                host.send(event)
        return index

    def _open_message(self, group: asyncio.TaskGroup) -> _MessageOutput:
        audio = self.request.settings.audio_output
        item = Item(id=_new_id("item_"), kind=ItemKind.MESSAGE, role="assistant", status="in_progress")
        index = self._add_output(item)
        part = (
            Part(PartKind.AUDIO, transcript="", audio=bytearray()) if audio else Part(PartKind.TEXT, text="")
        )
        item.content.append(part)
        message = _MessageOutput(item, part, index)
        self._host.send(
            self._host.wire.event(
                EventKind.CONTENT_PART_ADDED,
                response_id=self.id,
                item_id=item.id,
                output_index=index,
                content_index=0,
                part=_part(part),
            )
        )
        if audio:
            message.speaker = group.create_task(self._speak(message), name=f"response {self.id} speaker")
        return message

    def _on_text(self, message: _MessageOutput, text: str) -> None:
        self._words += 1
        wire, part = self._host.wire, message.part
        ids = {
            "response_id": self.id,
            "item_id": message.item.id,
            "output_index": message.index,
            "content_index": 0,
        }
        if part.kind is PartKind.TEXT:
            part.text = (part.text or "") + text
            self._host.send(wire.event(EventKind.TEXT_DELTA, delta=text, **ids))
            return
        part.transcript = (part.transcript or "") + text
        self._host.send(wire.event(EventKind.TRANSCRIPT_DELTA, delta=text, **ids))
        for piece in message.chunker.push(text):
            self._queue_piece(message, piece)

    def _queue_piece(self, message: _MessageOutput, piece: str) -> None:
        self.playback.text_queued(len(piece))
        message.sentences.put_nowait(piece)

    async def _speak(self, message: _MessageOutput) -> None:
        settings = self.request.settings
        tts = self._host.engines.tts
        encoder = AudioEncoder(tts.sample_rate, settings.output_codec)
        wire, part = self._host.wire, message.part
        ids = {
            "response_id": self.id,
            "item_id": message.item.id,
            "output_index": message.index,
            "content_index": 0,
        }
        first = True
        while (sentence := await message.sentences.get()) is not None:
            pieces = self._source.tts_stream(sentence, settings.voice, settings.speed, first=first)
            first = False
            async with closing(pieces) as chunks:
                async for pcm in chunks:
                    await self._host.outgoing_room()
                    self._send_audio(encoder.encode(pcm), part, wire, ids)
            self.playback.text_spoken(len(sentence))
        self._send_audio(encoder.flush(), part, wire, ids)

    def _send_audio(
        self, encoded: tuple[bytes, bytes], part: Part, wire: WireRenderer, ids: dict[str, Any]
    ) -> None:
        encoded_audio, pcm24k = encoded
        if part.audio is not None:
            part.audio += pcm24k
        if pcm24k:
            self.playback.audio_sent(len(pcm24k) / 2 / 24_000)
        if encoded_audio:
            delta = base64.b64encode(encoded_audio).decode("ascii")
            self._host.send(wire.event(EventKind.AUDIO_DELTA, delta=delta, **ids))

    async def _close_message(self, message: _MessageOutput) -> None:
        if message.speaker is not None:
            rest = message.chunker.rest()
            if rest:
                self._queue_piece(message, rest)
            message.sentences.put_nowait(None)
            await message.speaker
        self._close_item(message.item, "completed")

    def _close_item(self, item: Item, status: str) -> None:
        """Send the done events of an output item (also after a cancel, with status ``incomplete``)."""
        host, wire = self._host, self._host.wire
        index = self._output.index(item)
        item.status = status
        if item.kind is ItemKind.MESSAGE and item.content:
            part = item.content[0]
            ids = {"response_id": self.id, "item_id": item.id, "output_index": index, "content_index": 0}
            if part.kind is PartKind.AUDIO:
                host.send(wire.event(EventKind.AUDIO_DONE, **ids))
                host.send(wire.event(EventKind.TRANSCRIPT_DONE, transcript=part.transcript or "", **ids))
            else:
                host.send(wire.event(EventKind.TEXT_DONE, text=part.text or "", **ids))
            host.send(self._host.wire.event(EventKind.CONTENT_PART_DONE, part=_part(part), **ids))
        if not self.request.out_of_band:
            for event in wire.item_done(item, self._previous.get(item.id)):
                host.send(event)
        host.send(
            wire.event(
                EventKind.OUTPUT_ITEM_DONE, response_id=self.id, output_index=index, item=wire.item(item)
            )
        )

    def _on_tool_call(self, call: ToolCall) -> None:
        item = Item(
            id=_new_id("item_"),
            kind=ItemKind.FUNCTION_CALL,
            status="in_progress",
            call_id=call.call_id,
            name=call.name,
            arguments="",
        )
        self._host.conversation.remember_call(call.call_id)
        index = self._add_output(item)
        ids = {"response_id": self.id, "item_id": item.id, "output_index": index, "call_id": call.call_id}
        self._host.send(
            self._host.wire.event(EventKind.FUNCTION_CALL_ARGUMENTS_DELTA, delta=call.arguments, **ids)
        )
        self._host.send(
            self._host.wire.event(
                EventKind.FUNCTION_CALL_ARGUMENTS_DONE, arguments=call.arguments, name=call.name, **ids
            )
        )
        item.arguments = call.arguments
        self._close_item(item, "completed")


def _client_error(error: BaseException | None) -> ProtocolError | None:
    """The client's mistake behind a failure (a full conversation), if that is what it was."""
    if isinstance(error, ProtocolError):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            if (found := _client_error(inner)) is not None:
                return found
    return None


def _part(part: Part) -> ContentPart:
    if part.kind is PartKind.AUDIO:
        return ContentPart(type="audio", transcript=part.transcript or "")
    return ContentPart(type="text", text=part.text or "")


def _new_id(prefix: str = "resp_") -> str:
    return new_event_id(prefix)

"""How the realtime service reacts to each server event (one handler per event type, looked up in a table).

Kept apart from the frame side of the service (``openai.py``) so that each file reads as one story: this
one is "what the server said, and what the pipeline sees because of it".
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from voxpipe.errors import ServerError
from voxpipe.frames.audio import TTSAudioRawFrame, TTSStartedFrame, TTSStoppedFrame
from voxpipe.frames.base import Frame
from voxpipe.frames.control import ErrorFrame
from voxpipe.frames.llm import FunctionCallFromLLM, LLMFullResponseEndFrame, LLMFullResponseStartFrame
from voxpipe.frames.speech import (
    StartInterruptionFrame,
    StopInterruptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from voxpipe.frames.text import InterimTranscriptionFrame, LLMTextFrame, TranscriptionFrame
from voxpipe.metrics.metrics import LLMTokenUsage
from voxpipe.processors.frame_processor import FrameDirection
from voxpipe.realtime.client import ConnectionLost, MalformedFrame, Reconnected, classify_error

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.services.openai_realtime_beta.openai import OpenAIRealtimeBetaLLMService

__all__ = ["BENIGN_ERROR_CODES", "SERVER_EVENT_HANDLERS", "handle_server_event"]

logger = logging.getLogger(__name__)

Handler = Callable[["OpenAIRealtimeBetaLLMService", Any], Awaitable[None]]

BENIGN_ERROR_CODES = frozenset(
    {
        "response_cancel_not_active",
        "item_truncate_invalid_item_id",
        "item_delete_invalid_item_id",
        "invalid_value",  # a truncate past the audio the server sent
    }
)
"""Rejections of a cancel or truncate that raced the server: expected, logged, never reported upstream."""


async def _session(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    service._on_server_session(event.session)


async def _speech_started(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    setting = service._effective("turn_detection")
    server_interrupts = getattr(setting, "interrupt_response", None) is not False
    if service.interruptions_allowed and server_interrupts:
        await service.cancel_function_calls()  # this interruption never passes through process_frame
        await service._interrupt_answer(StartInterruptionFrame(), FrameDirection.DOWNSTREAM, cancel=False)
    await service.push_frame(UserStartedSpeakingFrame())
    await service.push_frame(UserStartedSpeakingFrame(), FrameDirection.UPSTREAM)


async def _speech_stopped(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    await service.start_ttfb_metrics()
    await service.push_frame(StopInterruptionFrame())
    await service.push_frame(UserStoppedSpeakingFrame())
    await service.push_frame(UserStoppedSpeakingFrame(), FrameDirection.UPSTREAM)


async def _item_created(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    item = event.item
    if item.id:
        service._items[item.id] = item
        await service._call_event_handler("on_conversation_item_created", item.id, item)


async def _item_retrieved(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    item = event.item
    if item.id:
        service._items[item.id] = item
        service._retrievals.resolve(item.id, item)


async def _item_truncated(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    await service._call_event_handler(
        "on_conversation_item_updated", event.item_id, service._items.get(event.item_id)
    )


async def _item_deleted(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    service._items.pop(event.item_id, None)
    await service._call_event_handler("on_conversation_item_updated", event.item_id, None)


async def _transcription_delta(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    if service._send_transcription_frames and event.delta:
        await _push_both_ways(
            service, lambda: InterimTranscriptionFrame(text=event.delta, user_id="", timestamp=_now())
        )


async def _transcription_completed(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    item = service._items.get(event.item_id)
    if item is not None and item.content:
        item.content[min(event.content_index, len(item.content) - 1)].transcript = event.transcript
    if service._send_transcription_frames:
        await _push_both_ways(
            service,
            lambda: TranscriptionFrame(text=event.transcript, user_id="", timestamp=_now(), result=event),
        )
    await service._call_event_handler("on_conversation_item_updated", event.item_id, item)


async def _transcription_failed(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    error = event.error
    logger.warning("%s: input transcription failed (%s)", service, error.code or error.type)
    await service.push_error(f"input transcription failed: {service._redact(error.message or '')}")


async def _response_created(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    service._responses.created(event.response.id)
    service._answer.begin(event.response.id)
    await service.start_processing_metrics()
    await service.push_frame(LLMFullResponseStartFrame())


async def _output_item_added(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    if event.item.id:
        service._items[event.item.id] = event.item


async def _audio_delta(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    try:
        pcm = service._decoder.decode(event.delta)
    except ServerError as exc:
        await service.push_error(str(exc), exception=exc)
        return
    answer = service._answer
    if not answer.audio_started:
        await service.stop_ttfb_metrics()
        answer.start_audio(event.item_id, asyncio.get_running_loop().time())
        await service.push_frame(TTSStartedFrame())
    answer.add_audio(event.item_id, service._decoder.duration_ms(pcm))
    await service.push_frame(TTSAudioRawFrame(audio=pcm, sample_rate=service._decoder.sample_rate))


async def _audio_done(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    if service._answer.stop_audio():
        await service.push_frame(TTSStoppedFrame())


async def _text_delta(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    answer = service._answer
    if not answer.text_started:
        answer.text_started = True
        if not answer.audio_started:
            await service.stop_ttfb_metrics()
    if event.delta:
        await service.push_frame(LLMTextFrame(text=event.delta))


async def _function_call_done(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    try:
        arguments = json.loads(event.arguments or "{}")
    except json.JSONDecodeError:
        arguments = {"_raw": event.arguments}
        logger.warning("%s: function call %s has arguments that are not JSON", service, event.name)
    call = FunctionCallFromLLM(
        function_name=event.name, tool_call_id=event.call_id, arguments=arguments, context=service._context
    )
    service._answer.function_calls += 1
    service._calls_in_flight.add(call.tool_call_id)
    await service.run_function_calls([call])


async def _output_item_done(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    item = event.item
    if item.id:
        service._items[item.id] = item
        await service._call_event_handler("on_conversation_item_updated", item.id, item)


async def _response_done(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    response = event.response
    if service._answer.stop_audio():
        await service.push_frame(TTSStoppedFrame())
    service._answer.finish()
    await service.stop_processing_metrics()
    await service.push_frame(LLMFullResponseEndFrame())
    usage = response.usage
    if usage is not None and service.usage_metrics_enabled:
        await service.push_frame(service._metrics.usage(_token_usage(usage)))
    details = response.status_details
    if response.status == "failed":
        error = getattr(details, "error", None)
        message = service._redact(getattr(error, "message", None) or "the response failed")
        await service.push_error(f"response {response.id} failed: {message}")
    service._responses.done(response.id)


async def _rate_limits(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    service.rate_limits = list(event.rate_limits or [])


async def _error(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    verdict = classify_error(event)
    message = service._redact(verdict.message)  # a server may echo what it was sent, a key included
    if verdict.event_id and service._retrievals.fail(verdict.event_id, message):
        return
    if verdict.rotate:
        # The session hit its time limit: the client rotates to a fresh one (or ends the stream with
        # SessionExpiredError when rotation is off, which _receive reports as fatal).
        logger.info("%s: the server session expired; rotating to a new one", service)
        return
    if verdict.code == "conversation_already_has_active_response":
        service._responses.rejected()
    if verdict.code in BENIGN_ERROR_CODES:
        logger.warning("%s: server rejected a request (%s): %s", service, verdict.code, message)
        return
    logger.log(
        logging.ERROR if verdict.fatal else logging.WARNING,
        "%s: server error %s: %s",
        service,
        verdict.code,
        message,
    )
    exc = ServerError(
        message, code=verdict.code, recoverable=verdict.recoverable, retryable=verdict.retryable
    )
    await service.push_frame(
        ErrorFrame(
            error=f"{verdict.code}: {message}", fatal=verdict.fatal, exception=exc, processor=service
        ),
        FrameDirection.UPSTREAM,
    )


async def _ignore(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s: %s", service, getattr(event, "type", type(event).__name__))


SERVER_EVENT_HANDLERS: dict[str, Handler] = {
    "session.created": _session,
    "session.updated": _session,
    "input_audio_buffer.speech_started": _speech_started,
    "input_audio_buffer.speech_stopped": _speech_stopped,
    "conversation.item.created": _item_created,
    "conversation.item.retrieved": _item_retrieved,
    "conversation.item.truncated": _item_truncated,
    "conversation.item.deleted": _item_deleted,
    "conversation.item.input_audio_transcription.delta": _transcription_delta,
    "conversation.item.input_audio_transcription.completed": _transcription_completed,
    "conversation.item.input_audio_transcription.failed": _transcription_failed,
    "response.created": _response_created,
    "response.output_item.added": _output_item_added,
    "response.audio.delta": _audio_delta,
    "response.audio.done": _audio_done,
    "response.audio_transcript.delta": _text_delta,
    "response.text.delta": _text_delta,
    "response.function_call_arguments.done": _function_call_done,
    "response.output_item.done": _output_item_done,
    "response.done": _response_done,
    "rate_limits.updated": _rate_limits,
    "error": _error,
}


async def handle_server_event(service: OpenAIRealtimeBetaLLMService, event: Any) -> None:
    """Dispatch one item from the session client: a server event or a client notice."""
    if isinstance(event, Reconnected):
        logger.info("%s: reconnected (%s, attempt %d)", service, event.reason.value, event.attempts)
        return
    if isinstance(event, ConnectionLost):
        logger.warning("%s: connection lost (code %s); reconnecting", service, event.code)
        service._on_connection_lost()
        return
    if isinstance(event, MalformedFrame):
        logger.warning(
            "%s: skipped a malformed server frame (%d bytes): %s", service, event.size, event.error
        )
        return
    kind = getattr(event, "type", "")
    handler = SERVER_EVENT_HANDLERS.get(service._event_aliases.get(kind, kind), _ignore)
    await handler(service, event)


def _token_usage(usage: Any) -> LLMTokenUsage:
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


async def _push_both_ways(service: OpenAIRealtimeBetaLLMService, make: Callable[[], Frame]) -> None:
    """Push a fresh frame each way: downstream for the pipeline, upstream for a user context aggregator."""
    await service.push_frame(make())
    await service.push_frame(make(), FrameDirection.UPSTREAM)


def _now() -> str:
    return datetime.now(UTC).isoformat()

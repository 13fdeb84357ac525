"""Metering one session: its events, its audio and the latency of each of its turns.

A ``SessionMeter`` is the session's observer (``voxpipe.server.connection.observer``) and wraps its
transport, so it sees each event twice: when the session queues it and when it is handed to the socket.

Turn latency starts when ``input_audio_buffer.speech_stopped`` is queued (server VAD ended the turn) and
records, once per turn:

* ``first_token``: the first transcript, text or function-call delta queued (the LLM's first token);
* ``first_tts_chunk``: the first audio delta queued (the TTS's first chunk, encoded);
* ``first_audio``: that audio delta handed to the socket (what the client waits for, minus the network).

The user speaking again before a stage is reached abandons the turn's remaining stages. With
OpenTelemetry installed each turn is also a span (``voxpipe.server.metrics._tracing``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from voxpipe.server.connection.handler import Transport
from voxpipe.server.connection.settings import AudioCodec
from voxpipe.server.metrics._server import ServerMetrics
from voxpipe.server.metrics._tracing import TurnSpans

__all__ = ["MeteredTransport", "SessionMeter"]

_SPEECH_STOPPED = "input_audio_buffer.speech_stopped"
_SPEECH_STARTED = "input_audio_buffer.speech_started"
_APPEND = "input_audio_buffer.append"
_TOKEN_DELTAS = frozenset(
    {
        "response.audio_transcript.delta",
        "response.text.delta",
        "response.output_audio_transcript.delta",
        "response.output_text.delta",
        "response.function_call_arguments.delta",
    }
)
_AUDIO_DELTAS = frozenset({"response.audio.delta", "response.output_audio.delta"})
# the server's JSON starts with the event type (``EventBase`` serialises ``type`` first)
_AUDIO_PREFIXES = tuple(f'{{"type":"{name}"' for name in sorted(_AUDIO_DELTAS))

Formats = Callable[[], tuple[AudioCodec, AudioCodec]]


def _pcm_bytes(b64: str) -> int:
    """Bytes that ``b64`` decodes to (without decoding it)."""
    return len(b64) // 4 * 3 - b64[-2:].count("=")


def _seconds(b64: str, codec: AudioCodec) -> float:
    return _pcm_bytes(b64) / (codec.sample_rate * codec.bytes_per_sample)


class SessionMeter:
    """Observer of one session (see the module docstring).

    Args:
        metrics: the server's metrics.
        clock: monotonic seconds (a test may pass its own).
    """

    def __init__(self, metrics: ServerMetrics, clock: Callable[[], float] = time.perf_counter) -> None:
        self._metrics = metrics
        self._clock = clock
        self._formats: Formats = lambda: (AudioCodec.PCM16, AudioCodec.PCM16)
        self._turn_start: float | None = None
        self._pending: set[str] = set()
        self._awaiting_write = False
        self._spans = TurnSpans(metrics.tracer) if metrics.tracer is not None else None

    def audio_formats(self, formats: Formats) -> None:
        """Say where to read the session's input and output audio formats (they change on updates)."""
        self._formats = formats

    def received(self, event: Any) -> None:
        """Count a client event (and its audio)."""
        metrics = self._metrics
        kind = event.type
        metrics.events_in.labels(metrics.event_type(kind)).inc()
        if kind == _APPEND:
            metrics.audio_in.inc(_seconds(event.audio, self._formats()[0]))

    def queued(self, event: Any) -> None:
        """Count a server event, its audio and error code, and advance the turn's latency stages."""
        metrics = self._metrics
        kind = event.type
        metrics.events_out.labels(metrics.event_type(kind)).inc()
        if kind in _AUDIO_DELTAS:
            metrics.audio_out.inc(_seconds(event.delta, self._formats()[1]))
            self._reached("first_tts_chunk")
            if self._turn_start is not None and "first_audio" in self._pending:
                self._awaiting_write = True
        elif kind in _TOKEN_DELTAS:
            self._reached("first_token")
        elif kind == _SPEECH_STOPPED:
            self._turn_start = self._clock()
            self._pending = {"first_token", "first_tts_chunk", "first_audio"}
            self._awaiting_write = False
            if self._spans is not None:
                self._spans.started()
        elif kind == _SPEECH_STARTED:
            self._turn_start = None
            self._pending.clear()
            self._awaiting_write = False
            if self._spans is not None:
                self._spans.end(abandoned=True)
        elif kind == "response.done" and self._spans is not None:
            self._spans.end()
        elif kind == "error":
            metrics.errors.labels(metrics.error_code(getattr(event.error, "code", None))).inc()

    def written(self, text: str) -> None:
        """A message was handed to the socket: the turn's first audio, if it is the awaited one."""
        if self._awaiting_write and text.startswith(_AUDIO_PREFIXES):
            self._awaiting_write = False
            self._reached("first_audio")

    def close(self) -> None:
        """The session ended: end the span of a turn still open."""
        if self._spans is not None:
            self._spans.end(abandoned=True)

    def _reached(self, stage: str) -> None:
        if self._turn_start is None or stage not in self._pending:
            return
        self._pending.discard(stage)
        self._metrics.observe_turn(stage, self._clock() - self._turn_start)
        if self._spans is not None:
            self._spans.stage(stage)
        if not self._pending:
            self._turn_start = None


class MeteredTransport:
    """A session ``Transport`` that tells its meter what was handed to the socket."""

    def __init__(self, inner: Transport, meter: SessionMeter) -> None:
        self._inner = inner
        self._meter = meter

    async def receive(self) -> str | bytes | None:
        """The next message, or None once the client is gone."""
        return await self._inner.receive()

    async def send_text(self, text: str) -> None:
        """Send one text frame, then tell the meter."""
        await self._inner.send_text(text)
        self._meter.written(text)

    async def close(self, code: int, reason: str) -> None:
        """Close the connection."""
        await self._inner.close(code, reason)

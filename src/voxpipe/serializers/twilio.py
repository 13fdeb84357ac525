"""``TwilioFrameSerializer``: Twilio Media Streams (bidirectional), μ-law 8 kHz in JSON text messages.

What Twilio sends, and what it becomes:

=============  ======================================================================================
``connected``  nothing (the socket is up; the stream is not yet described)
``start``      nothing; the serializer learns ``streamSid``, ``callSid`` and ``customParameters`` and
               checks ``mediaFormat`` is ``audio/x-mulaw``, 8000 Hz, mono
``media``      :class:`InputAudioRawFrame`: the base64 μ-law payload decoded to PCM16 8 kHz, resampled
               to ``input_sample_rate`` when one was asked for
``dtmf``       :class:`InputDTMFFrame`
``mark``       :class:`MarkReachedFrame` (Twilio played the audio sent before that mark)
``stop``       :class:`EndTaskFrame`: the caller hung up, so the task ends the run gracefully (the input
               transport sends it upstream, to the task)
other          nothing; logged once per event name (Twilio may add events; a session must outlive that)
=============  ======================================================================================

What goes to Twilio: :class:`OutputAudioRawFrame` → resampled to 8 kHz (one streaming resampler per
input format, state kept across frames) → μ-law → ``media``; :class:`StartInterruptionFrame` → ``clear``
(Twilio drops the audio it buffered); :class:`OutputMarkFrame` → ``mark``. The serializer does not hang
up calls: ending the call is Twilio's REST API's job, outside this package.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any, Literal

from voxpipe.audio import StreamResampler, ulaw_decode, ulaw_encode
from voxpipe.errors import VoxpipeUsageError
from voxpipe.frames.audio import InputAudioRawFrame, OutputAudioRawFrame
from voxpipe.frames.base import Frame
from voxpipe.frames.control import EndTaskFrame, StartFrame
from voxpipe.frames.speech import StartInterruptionFrame
from voxpipe.serializers._fields import (
    b64decode_field,
    get_object,
    get_str,
    parse_json_object,
)
from voxpipe.serializers.base import FrameSerializer, MalformedMessageError
from voxpipe.serializers.frames import DTMF_DIGITS, InputDTMFFrame, MarkReachedFrame, OutputMarkFrame
from voxpipe.utils.dispatch import HandlerTable

__all__ = ["TWILIO_SAMPLE_RATE", "TwilioFrameSerializer"]

logger = logging.getLogger(__name__)

TWILIO_SAMPLE_RATE = 8000
"""Twilio media streams carry G.711 μ-law at 8 kHz, mono; nothing else."""

_ENCODING = "audio/x-mulaw"


class TwilioFrameSerializer(FrameSerializer):
    """Frames to and from Twilio Media Streams messages.

    Args:
        stream_sid: the stream to address outbound messages to. None: learnt from the ``start``
            message (the usual case behind :class:`WebsocketServerTransport`). When given and ``start``
            names another stream, the ``start`` message wins (Twilio ignores media for other streams).
        call_sid: the call, for your records; also learnt from ``start``.
        input_sample_rate: rate of the :class:`InputAudioRawFrame`\\ s produced: ``8000`` keeps
            Twilio's rate (no resampling, no added delay; the realtime service resamples by itself), an
            int resamples to that rate, ``"pipeline"`` resamples to the StartFrame's
            ``audio_in_sample_rate``.

    Raises:
        VoxpipeUsageError: ``input_sample_rate`` is neither a positive int nor ``"pipeline"``.
    """

    output_sample_rate = TWILIO_SAMPLE_RATE

    def __init__(
        self,
        stream_sid: str | None = None,
        call_sid: str | None = None,
        *,
        input_sample_rate: int | Literal["pipeline"] = TWILIO_SAMPLE_RATE,
    ) -> None:
        if input_sample_rate != "pipeline" and (
            isinstance(input_sample_rate, bool)
            or not isinstance(input_sample_rate, int)
            or input_sample_rate <= 0
        ):
            raise VoxpipeUsageError(
                f"input_sample_rate must be a positive int or 'pipeline', got {input_sample_rate!r}"
            )
        self._given_stream_sid = stream_sid
        self._given_call_sid = call_sid
        self._wanted_rate = input_sample_rate
        self._in_rate = TWILIO_SAMPLE_RATE if input_sample_rate == "pipeline" else input_sample_rate
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self.custom_parameters: dict[str, Any] = {}
        self._in_resampler: StreamResampler | None = None
        self._out_resamplers: dict[tuple[int, int], StreamResampler] = {}
        self._unknown_events: set[str] = set()
        self._warned_no_stream = False

    def __repr__(self) -> str:
        return f"TwilioFrameSerializer(stream_sid={self.stream_sid!r}, input_sample_rate={self._in_rate})"

    @property
    def input_sample_rate(self) -> int:
        """Rate of the input audio frames this serializer makes."""
        return self._in_rate

    def setup(self, frame: StartFrame) -> None:
        """Take the pipeline's input rate when ``input_sample_rate="pipeline"``."""
        if self._wanted_rate == "pipeline":
            self._in_rate = frame.audio_in_sample_rate
        self._in_resampler = None

    def reset(self) -> None:
        """Forget the previous call: stream ids (back to the given ones), resampler state, warnings."""
        self.stream_sid = self._given_stream_sid
        self.call_sid = self._given_call_sid
        self.custom_parameters = {}
        self._in_resampler = None
        self._out_resamplers.clear()
        self._warned_no_stream = False

    # -- frames to Twilio -----------------------------------------------------------------------------
    def serialize(self, frame: Frame) -> str | None:
        """A Twilio message for audio, interruptions and marks; None for every other frame."""
        handler = _SERIALIZERS.lookup(type(frame))
        return None if handler is None else handler(self, frame)

    def _message(self, event: str, **body: Any) -> str | None:
        if self.stream_sid is None:
            if not self._warned_no_stream:
                self._warned_no_stream = True
                logger.warning("%r: no stream sid yet (no 'start' message); dropped a %s", self, event)
            return None
        return json.dumps({"event": event, "streamSid": self.stream_sid, **body}, separators=(",", ":"))

    def _serialize_audio(self, frame: OutputAudioRawFrame) -> str | None:
        key = (frame.sample_rate, frame.num_channels)
        resampler = self._out_resamplers.get(key)
        if resampler is None:
            resampler = StreamResampler(
                frame.sample_rate, TWILIO_SAMPLE_RATE, channels=frame.num_channels, out_channels=1
            )
            self._out_resamplers[key] = resampler
        pcm = resampler.process(frame.audio)
        if not pcm:
            return None  # held in the resampler until more audio follows
        payload = base64.b64encode(ulaw_encode(pcm)).decode("ascii")
        return self._message("media", media={"payload": payload})

    def _serialize_clear(self, frame: StartInterruptionFrame) -> str | None:
        for resampler in self._out_resamplers.values():
            resampler.reset()  # the next answer does not continue the interrupted one
        return self._message("clear")

    def _serialize_mark(self, frame: OutputMarkFrame) -> str | None:
        return self._message("mark", mark={"name": frame.mark})

    # -- Twilio to frames -----------------------------------------------------------------------------
    def deserialize(self, data: str | bytes) -> Frame | None:
        """The frame for one Twilio message (see the module docstring).

        Raises:
            MalformedMessageError: not JSON, no ``event``, or a known event with missing or wrong fields.
        """
        message = parse_json_object(data)
        event = get_str(message, "event", context="Twilio message")
        assert event is not None
        handler = _DESERIALIZERS.get(event)
        if handler is None:
            if event not in self._unknown_events:
                self._unknown_events.add(event)
                logger.info("%r: ignoring Twilio event %r (not handled; logged once)", self, event)
            return None
        return handler(self, message)

    def _on_connected(self, message: dict[str, Any]) -> None:
        return None

    def _on_start(self, message: dict[str, Any]) -> None:
        start = get_object(message, "start", context="Twilio 'start'")
        stream_sid = get_str(start, "streamSid", context="Twilio 'start'", required=False) or get_str(
            message, "streamSid", context="Twilio 'start'"
        )
        media_format = start.get("mediaFormat")
        if isinstance(media_format, dict):
            encoding = media_format.get("encoding")
            rate = media_format.get("sampleRate")
            channels = media_format.get("channels", 1)
            if (encoding, rate, channels) != (_ENCODING, TWILIO_SAMPLE_RATE, 1):
                raise MalformedMessageError(
                    f"Twilio 'start': media format {encoding!r} {rate!r} Hz x{channels!r} is not supported; "
                    f"expected {_ENCODING} {TWILIO_SAMPLE_RATE} Hz mono",
                    code="unsupported_format",
                )
        if self.stream_sid is not None and self.stream_sid != stream_sid:
            logger.warning("%r: 'start' names another stream; using the stream Twilio started", self)
        self.stream_sid = stream_sid
        self.call_sid = get_str(start, "callSid", context="Twilio 'start'", required=False) or self.call_sid
        custom = start.get("customParameters")
        self.custom_parameters = dict(custom) if isinstance(custom, dict) else {}
        self._warned_no_stream = False
        logger.info("%r: stream started", self)

    def _on_media(self, message: dict[str, Any]) -> InputAudioRawFrame | None:
        media = get_object(message, "media", context="Twilio 'media'")
        track = media.get("track")
        if track is not None and track != "inbound":
            return None  # the bot's own audio, in streams that fork both tracks
        payload = get_str(media, "payload", context="Twilio 'media'")
        assert payload is not None
        codes = b64decode_field(payload, context="Twilio 'media'")
        if not codes:
            return None
        pcm = ulaw_decode(codes)
        if self._in_rate != TWILIO_SAMPLE_RATE:
            if self._in_resampler is None:
                self._in_resampler = StreamResampler(TWILIO_SAMPLE_RATE, self._in_rate)
            pcm = self._in_resampler.process(pcm)
            if not pcm:
                return None
        return InputAudioRawFrame(audio=pcm, sample_rate=self._in_rate, num_channels=1)

    def _on_dtmf(self, message: dict[str, Any]) -> InputDTMFFrame:
        dtmf = get_object(message, "dtmf", context="Twilio 'dtmf'")
        digit = get_str(dtmf, "digit", context="Twilio 'dtmf'")
        if digit not in DTMF_DIGITS:
            raise MalformedMessageError(
                f"Twilio 'dtmf': digit of {len(digit or '')} characters is not a DTMF key", code="bad_field"
            )
        return InputDTMFFrame(digit=digit)

    def _on_mark(self, message: dict[str, Any]) -> MarkReachedFrame:
        mark = get_object(message, "mark", context="Twilio 'mark'")
        name = get_str(mark, "name", context="Twilio 'mark'")
        assert name is not None
        return MarkReachedFrame(mark=name)

    def _on_stop(self, message: dict[str, Any]) -> EndTaskFrame:
        logger.info("%r: stream stopped by Twilio", self)
        return EndTaskFrame()


_SERIALIZERS = HandlerTable(
    {
        OutputAudioRawFrame: TwilioFrameSerializer._serialize_audio,
        StartInterruptionFrame: TwilioFrameSerializer._serialize_clear,
        OutputMarkFrame: TwilioFrameSerializer._serialize_mark,
    }
)

_DESERIALIZERS: dict[str, Callable[[TwilioFrameSerializer, dict[str, Any]], Frame | None]] = {
    "connected": TwilioFrameSerializer._on_connected,
    "start": TwilioFrameSerializer._on_start,
    "media": TwilioFrameSerializer._on_media,
    "dtmf": TwilioFrameSerializer._on_dtmf,
    "mark": TwilioFrameSerializer._on_mark,
    "stop": TwilioFrameSerializer._on_stop,
}

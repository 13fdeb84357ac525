"""Session settings between the two protocol shapes: the flat (beta) settings users write, and the
nested GA ``session`` the GA endpoint takes (``audio.input``/``audio.output``, ``output_modalities``).
"""

from __future__ import annotations

import logging
from typing import Any

from voxpipe.realtime import Session, SessionProperties, ga
from voxpipe.services._realtime_service.tools import wire_tools

__all__ = ["GA_FORMATS", "from_ga_session", "to_ga_session"]

logger = logging.getLogger(__name__)

GA_FORMATS: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_BETA_FORMATS = {spec["type"]: name for name, spec in GA_FORMATS.items()}


def to_ga_session(properties: SessionProperties) -> ga.SessionProperties:
    """The GA ``session`` for the given (flat) settings; only the fields that were set are carried.

    ``temperature`` has no GA equivalent and is left out (logged once per call at debug level).
    """
    given = properties.model_fields_set
    fields: dict[str, Any] = {}
    audio_in: dict[str, Any] = {}
    audio_out: dict[str, Any] = {}
    if "modalities" in given and properties.modalities is not None:
        fields["output_modalities"] = ["text"] if "audio" not in properties.modalities else ["audio"]
    for name in ("instructions", "tool_choice", "tracing", "include"):
        if name in given:
            fields[name] = getattr(properties, name)
    if "max_response_output_tokens" in given:
        fields["max_output_tokens"] = properties.max_response_output_tokens
    if "tools" in given and properties.tools is not None:
        fields["tools"] = wire_tools(properties.tools)
    if "input_audio_format" in given and properties.input_audio_format:
        audio_in["format"] = GA_FORMATS[properties.input_audio_format]
    if "input_audio_transcription" in given:
        audio_in["transcription"] = properties.input_audio_transcription
    if "input_audio_noise_reduction" in given:
        audio_in["noise_reduction"] = properties.input_audio_noise_reduction
    if "turn_detection" in given:
        audio_in["turn_detection"] = properties.turn_detection
    if "output_audio_format" in given and properties.output_audio_format:
        audio_out["format"] = GA_FORMATS[properties.output_audio_format]
    for name in ("voice", "speed"):
        if name in given:
            audio_out[name] = getattr(properties, name)
    if audio_in or audio_out:
        audio: dict[str, Any] = {}
        if audio_in:
            audio["input"] = ga.AudioInput(**audio_in)
        if audio_out:
            audio["output"] = ga.AudioOutput(**audio_out)
        fields["audio"] = ga.AudioConfig(**audio)
    if "temperature" in given:
        logger.debug("temperature has no GA session field; not sent")
    return ga.SessionProperties(**fields)


def _format_name(spec: Any) -> str | None:
    kind = getattr(spec, "type", None)
    return _BETA_FORMATS.get(kind) if kind else None


def from_ga_session(session: Any) -> Session:
    """A flat view of a GA session: the fields the service reads (formats, turn detection, modalities)."""
    audio = getattr(session, "audio", None)
    audio_in = getattr(audio, "input", None)
    audio_out = getattr(audio, "output", None)
    modalities = getattr(session, "output_modalities", None)
    return Session(
        id=getattr(session, "id", None),
        instructions=getattr(session, "instructions", None),
        modalities=(["text"] if modalities == ["text"] else ["audio", "text"]) if modalities else None,
        input_audio_format=_format_name(getattr(audio_in, "format", None)),
        output_audio_format=_format_name(getattr(audio_out, "format", None)),
        turn_detection=getattr(audio_in, "turn_detection", None),
        voice=getattr(audio_out, "voice", None)
        if isinstance(getattr(audio_out, "voice", None), str)
        else None,
    )

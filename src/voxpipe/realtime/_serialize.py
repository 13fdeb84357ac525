"""Turning events into wire JSON: what was set goes out, what was not stays home.

``exclude_unset`` rather than ``exclude_none``: a field explicitly set to ``None`` must reach the wire
as ``null`` (``turn_detection: null`` disables VAD; a server echoes ``previous_item_id: null``),
while a field never touched must not be sent at all (``session.update`` changes only what it
carries). The event ``type`` is always written: :class:`~voxpipe.realtime._base.ProtocolModel` marks
it as set when an event is built in Python, and :func:`serialize_event` re-checks it for events made
with ``model_construct``.

``input_audio_buffer.append`` (ten per second from every client) has a shortcut: its JSON is
assembled directly when the audio is plain base64, which halves the cost; the output is
byte-identical to the general path (a test checks it).
"""

from __future__ import annotations

from voxpipe.errors import VoxpipeUsageError
from voxpipe.realtime._base import ProtocolModel
from voxpipe.realtime.beta.input_audio_buffer import InputAudioBufferAppendEvent

__all__ = ["serialize_event"]

_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_APPEND_PREFIX = '{"type":"input_audio_buffer.append"'


def _is_base64_text(value: object) -> bool:
    """True when ``value`` is a str of base64 characters only (so it needs no JSON escaping)."""
    return (
        type(value) is str and value.isascii() and not value.encode("ascii").translate(None, _BASE64_ALPHABET)
    )


def _is_plain_id(value: object) -> bool:
    """True for a short printable ASCII string without quotes or backslashes."""
    return (
        type(value) is str
        and len(value) <= 512
        and value.isascii()
        and value.isprintable()
        and '"' not in value
        and "\\" not in value
    )


def _append_json(event: InputAudioBufferAppendEvent) -> str | None:
    """Assemble an append event's JSON directly, or ``None`` when the general path is needed."""
    if event.__pydantic_extra__:
        return None
    fields_set = event.__pydantic_fields_set__
    audio = event.audio
    if "audio" not in fields_set or not _is_base64_text(audio):
        return None
    if "event_id" in fields_set:
        event_id = event.event_id
        if not _is_plain_id(event_id):
            return None
        return f'{_APPEND_PREFIX},"event_id":"{event_id}","audio":"{audio}"}}'
    return f'{_APPEND_PREFIX},"audio":"{audio}"}}'


def serialize_event(event: ProtocolModel) -> str:
    """Serialise an event (or any protocol object) to the JSON text sent on the WebSocket.

    Fields never set are left out; explicitly set ``None`` becomes ``null``; ``type`` is always
    present; unknown (extra) fields are written back as they came. Cheap enough for the audio hot
    path: one call into pydantic-core, no intermediate dict.

    Args:
        event: the event to send.

    Returns:
        Compact JSON text (no spaces), ``type`` first for events built in Python.

    Raises:
        VoxpipeUsageError: a field holds an object that is not JSON data (such as an unconverted
            ``ToolsSchema``).
    """
    fields_set = event.__pydantic_fields_set__
    if "type" not in fields_set and "type" in type(event).model_fields:
        fields_set.add("type")  # built with model_construct: the type must still go out
    if type(event) is InputAudioBufferAppendEvent:
        fast = _append_json(event)
        if fast is not None:
            return fast
    try:
        return event.__pydantic_serializer__.to_json(event, exclude_unset=True, warnings=False).decode()
    except ValueError as exc:  # pydantic's PydanticSerializationError
        raise VoxpipeUsageError(
            f"{type(event).__name__} holds a value that is not JSON data ({exc}). Convert application "
            "objects first (e.g. a ToolsSchema in 'tools' to a list of tool dicts)."
        ) from exc

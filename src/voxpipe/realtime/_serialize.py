"""Turning events into wire JSON: what was set goes out, what was not stays home.

``exclude_unset`` rather than ``exclude_none``: a field explicitly set to ``None`` must reach the wire
as ``null`` (``turn_detection: null`` disables VAD; a server echoes ``previous_item_id: null``),
while a field never touched must not be sent at all (``session.update`` changes only what it
carries). The event ``type`` is always written: :class:`~voxpipe.realtime._base.ProtocolModel` marks
it as set when an event is built in Python.
"""

from __future__ import annotations

from voxpipe.realtime._base import ProtocolModel

__all__ = ["serialize_event"]


def serialize_event(event: ProtocolModel) -> str:
    """Serialise an event (or any protocol object) to the JSON text sent on the WebSocket.

    Fields never set are left out; explicitly set ``None`` becomes ``null``; ``type`` is always
    present; unknown (extra) fields are written back as they came. Cheap enough for the audio hot
    path: one call into pydantic-core, no intermediate dict.

    Args:
        event: the event to send.

    Returns:
        Compact JSON text (no spaces), ``type`` first for events built in Python.
    """
    return event.__pydantic_serializer__.to_json(event, exclude_unset=True, warnings=False).decode()

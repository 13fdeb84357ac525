"""Client mistakes the session answers with a protocol ``error`` event, and the codes it uses.

A handler raises ``ProtocolError``; the session's dispatcher turns it into one ``error`` event (echoing the
client's ``event_id``) and goes on with the next event. Nothing here ends a session.

Codes taken from the protocol reference (observed on OpenAI): ``invalid_json``, ``invalid_event``,
``invalid_value``, ``invalid_type``, ``missing_required_parameter``, ``unknown_parameter``,
``integer_below_min_value``, ``conversation_already_has_active_response``, ``response_cancel_not_active``,
``input_audio_buffer_commit_empty``, ``item_retrieve_invalid_item_id``, ``session_expired``,
``invalid_api_key``. Truncating past the end of the audio uses code ``null`` with OpenAI's message.

Codes of our own, for cases no source shows (same naming pattern): ``message_too_large``,
``input_audio_buffer_too_large``, ``invalid_audio`` (bad base64 or odd byte count),
``item_delete_invalid_item_id``, ``item_truncate_invalid_item_id``, ``item_truncate_invalid_content_index``,
``item_create_invalid_previous_item_id``, ``item_create_duplicate_item_id``, ``invalid_call_id``,
``conversation_too_large``, ``integer_above_max_value``, ``decimal_below_min_value``,
``decimal_above_max_value``, ``unsupported_transport`` (WebRTC-only events).

Tree (root in ``voxpipe.errors``)::

    VoxpipeUsageError
    └── ProtocolError   -- a client event cannot be honoured; becomes an ``error`` event
"""

from __future__ import annotations

from voxpipe.errors import VoxpipeUsageError

__all__ = ["ProtocolError"]


class ProtocolError(VoxpipeUsageError):
    """A client event the session refuses; the fields are those of the protocol's ``error`` object.

    Args:
        message: readable sentence for the client (never contains audio, keys or other sessions' data).
        code: protocol error code (see the module docstring), or None where OpenAI sends ``null``.
        param: dotted path of the offending field, when one is to blame.
        error_type: ``invalid_request_error`` for client mistakes, ``server_error`` for ours.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None,
        param: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.error_type = error_type

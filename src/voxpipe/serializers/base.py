"""The interface every wire format implements, and the error it raises for bad input from a peer.

A serializer turns frames into WebSocket messages and messages back into frames. It knows nothing of
sockets or pacing: the transport owns the connection and the clock, the serializer owns the bytes. That
split keeps each format testable without a network (feed it messages, look at frames) and lets one
transport carry any format.

Errors::

    VoxpipeWorldError
    └── MalformedMessageError   -- a message from the peer cannot be read (bad JSON, base64, fields, format)
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

from voxpipe.errors import VoxpipeWorldError

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.frames.base import Frame
    from voxpipe.frames.control import StartFrame

__all__ = ["FrameSerializer", "MalformedMessageError"]


class MalformedMessageError(VoxpipeWorldError):
    """A message from the peer could not be turned into a frame; the transport logs it and skips it.

    Always ``recoverable``: one bad message never ends a session. ``code`` says what was wrong
    (``"bad_json"``, ``"bad_base64"``, ``"missing_field"``, ``"bad_field"``, ``"unsupported_format"``,
    ``"bad_audio"``, ``"unexpected_type"``), so callers can count them without parsing messages.

    Args:
        message: what was wrong, with sizes and field names, never the message body.
        code: the machine-readable kind of problem.
    """

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, code=code, recoverable=True, retryable=False)


class FrameSerializer(abc.ABC):
    """Converts frames to WebSocket messages and back, for one wire format.

    One instance serves one connection at a time; a transport calls :meth:`reset` when a new peer
    connects, so that no stream state (resampler tails, stream ids) leaks from one call into the next.

    Attributes:
        output_sample_rate: the rate of the audio this format carries out, when it carries audio at a
            fixed rate. The output transport resamples to it *before* pacing, so each paced chunk becomes
            exactly one message of the same duration. None: the transport plays at the pipeline's rate.
    """

    output_sample_rate: int | None = None

    def setup(self, frame: StartFrame) -> None:  # noqa: B027 - a hook: most formats need nothing
        """Learn the run's settings (audio rates) from the StartFrame, before any message flows."""

    def reset(self) -> None:  # noqa: B027 - a hook: stateless formats need nothing
        """Forget the state of the previous connection (a new peer is about to send)."""

    @abc.abstractmethod
    def serialize(self, frame: Frame) -> str | bytes | None:
        """The message to send for ``frame``, or None when this format does not carry it.

        Called by the output transport for every frame it sees; it must be cheap for frames it ignores.
        """

    @abc.abstractmethod
    def deserialize(self, data: str | bytes) -> Frame | None:
        """The frame a received message stands for, or None when it carries nothing for the pipeline.

        Raises:
            MalformedMessageError: the message cannot be read. The transport logs it and goes on.
        """

"""``WebsocketInputTransport``: messages from the peer become frames at the start of the pipeline.

The server and client transports differ only in how a connection arrives (see ``server.py`` and
``client.py``); reading it is the same. Each message goes through the serializer:

- a frame comes out: it is pushed downstream, except requests to the task (``EndTaskFrame``,
  ``CancelTaskFrame``, ``StopTaskFrame``), which go upstream to the task. A serializer that returns an
  ``EndFrame`` or ``CancelFrame`` gets them turned into those requests: lifecycle frames start at the task,
  never in the middle of a pipeline.
- nothing comes out (a control message, a message of an unknown kind): nothing happens.
- the message is malformed (a ``VoxpipeError``, usually ``MalformedMessageError``): it is logged with its
  size and the error's code, counted in :attr:`WebsocketInputTransport.malformed_messages`, and skipped.
  The session goes on. A bug in a serializer (any other exception) is reported upstream as a non-fatal
  ``ErrorFrame`` and the message skipped too.

When the peer goes away the disconnect event fires and, with ``end_on_disconnect`` (the default), the task
is asked once to end the run.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosedError

from voxpipe.errors import VoxpipeError
from voxpipe.frames.audio import InputAudioRawFrame
from voxpipe.frames.base import Frame
from voxpipe.frames.control import (
    CancelFrame,
    CancelTaskFrame,
    EndFrame,
    EndTaskFrame,
    StartFrame,
    StopTaskFrame,
)
from voxpipe.processors.frame_processor import (
    FrameDirection,
    FrameProcessor,
    ProcessorState,
    frame_handler,
)
from voxpipe.transports._vad_input import UserSpeechDetector
from voxpipe.transports.websocket._link import WebsocketLink

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.transports.websocket.params import WebsocketParams

__all__ = ["WebsocketInputTransport"]

logger = logging.getLogger(__name__)

_LOUD_MALFORMED = 10
"""Malformed messages logged as warnings per transport; later ones are logged at debug level (a peer
that sends nothing but junk must not flood the logs)."""

_TO_TASK: dict[type[Frame], type[Frame] | None] = {
    EndTaskFrame: None,
    CancelTaskFrame: None,
    StopTaskFrame: None,
    EndFrame: EndTaskFrame,
    CancelFrame: CancelTaskFrame,
}
"""Frames that go upstream to the task, and what they are turned into first (None: sent as they are)."""


class WebsocketInputTransport(FrameProcessor):
    """Pushes the frames the peer's messages stand for; base of the server and client input sides.

    Subclasses open the way in (:meth:`_open`: listen or connect, once the StartFrame has gone
    through the pipeline), call :meth:`_serve_connection` for
    each peer, and shut it down in :meth:`_shutdown`.

    Args:
        link: the peer holder shared with the output transport.
        params: the transport's settings.
        connected_event: name of the event fired when a peer arrives (``handler(input, connection)``).
        disconnected_event: name of the event fired when it leaves.
    """

    def __init__(
        self,
        link: WebsocketLink,
        params: WebsocketParams,
        *,
        connected_event: str,
        disconnected_event: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._link = link
        self._params = params
        self._connected_event = connected_event
        self._disconnected_event = disconnected_event
        self._end_requested = False  # a one-shot latch, not a state: the task is asked once
        self.malformed_messages = 0
        self.messages_received = 0
        analyzer = params.vad_analyzer
        self._speech = UserSpeechDetector(self, analyzer) if analyzer is not None else None
        self._register_event_handler(connected_event)
        self._register_event_handler(disconnected_event)

    @property
    def websocket_link(self) -> WebsocketLink:
        """The peer holder this input shares with its output transport."""
        return self._link

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self, frame: StartFrame) -> None:
        """Give the serializer the run's settings; listening or connecting waits for the push."""
        self._link.serializer.setup(frame)

    async def cancel(self, frame: CancelFrame) -> None:
        """Stop at once: close the connection and stop listening."""
        await self._shutdown()

    async def cleanup(self) -> None:
        """Close everything before the processor's own cleanup (which waits for the event handlers)."""
        await self._shutdown()
        await super().cleanup()

    async def _open(self) -> None:
        """Start taking connections (server) or connect (client)."""
        raise NotImplementedError

    async def _shutdown(self) -> None:
        """Close the connection and stop taking new ones; safe to call twice."""
        raise NotImplementedError

    @frame_handler(StartFrame)
    async def _handle_start(self, frame: StartFrame, direction: FrameDirection) -> None:
        """Pass the StartFrame on, then listen or connect.

        A system frame's push returns once every processor downstream has handled it, so no message from
        a peer can reach a processor that has not started yet.
        """
        await self.push_frame(frame, direction)
        await self._open()

    @frame_handler(Frame)
    async def _handle_other(self, frame: Frame, direction: FrameDirection) -> None:
        """Pass every other frame on: this processor only adds frames."""
        await self.push_frame(frame, direction)

    # -- one peer -------------------------------------------------------------------------------------
    async def _serve_connection(self, connection: Connection) -> None:
        """Read ``connection`` until it closes; the caller has attached it to the link.

        Safe to cancel: the peer is detached and the disconnect event fired either way.
        """
        await self._call_event_handler(self._connected_event, connection)
        malformed_before = self.malformed_messages
        received = 0
        try:
            async for message in connection:
                received += 1
                self.messages_received += 1
                await self._handle_message(message)
        except ConnectionClosedError as exc:
            logger.info(
                "%s: peer connection broke (close code %s)", self, exc.rcvd.code if exc.rcvd else None
            )
        finally:
            self._link.detach(connection)
            logger.info(
                "%s: peer gone after %d messages (%d malformed)",
                self,
                received,
                self.malformed_messages - malformed_before,
            )
            if self.state is not ProcessorState.CLOSED:
                await self._call_event_handler(self._disconnected_event, connection)
            if self._params.end_on_disconnect:
                await self._request_end(EndTaskFrame())

    async def _handle_message(self, message: str | bytes) -> None:
        try:
            frame = self._link.serializer.deserialize(message)
        except asyncio.CancelledError:
            raise
        except VoxpipeError as exc:
            self.malformed_messages += 1
            level = logging.WARNING if self.malformed_messages <= _LOUD_MALFORMED else logging.DEBUG
            logger.log(
                level,
                "%s: skipped a message of %d bytes: %s",
                self,
                len(message),
                exc,
                extra={"code": getattr(exc, "code", None)},
            )
            return
        except Exception as exc:
            self.malformed_messages += 1
            logger.exception("%s: the serializer failed on a message of %d bytes", self, len(message))
            await self.push_error(f"serializer failed: {type(exc).__name__}: {exc}", exception=exc)
            return
        if frame is None:
            return
        if self.state is not ProcessorState.STARTED:
            return  # the run is ending: nothing new enters the pipeline
        kind = type(frame)
        if kind in _TO_TASK:
            replacement = _TO_TASK[kind]
            await self._request_end(replacement() if replacement is not None else frame)
        else:
            if self._speech is not None and isinstance(frame, InputAudioRawFrame):
                await self._speech.feed(frame)
            await self.push_frame(frame)

    async def _request_end(self, frame: Frame) -> None:
        """Ask the task (upstream) to end or cancel the run, once, while the run is going."""
        if self._end_requested or self.state is not ProcessorState.STARTED:
            return
        self._end_requested = True
        logger.info("%s: asking the task to end the run (%s)", self, type(frame).__name__)
        await self.push_frame(frame, FrameDirection.UPSTREAM)

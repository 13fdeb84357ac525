"""``WebsocketOutputTransport``: plays the bot's audio to the peer in real time, like a phone line.

The peer is a sink on the playout engine (``voxpipe.transports.playout``): audio frames are resampled to
one playout rate (the serializer's wire rate by default) and paced, one chunk (20 ms by default) per
message, a little ahead of the listener (``playout_lead_ms``, 40 ms by default) so that a late timer leaves
no gap. Sending at the speed of speech, not as fast as audio arrives, is what makes interruptions work:
what was not sent yet can still be dropped, and the playback position is known (to within the network's
delay; what the lead had sent is dropped by the peer on Twilio's ``clear``, and counted as not played).
The buffer is bounded (``max_buffer_ms``), so the socket and the peer's buffer never hold more than the
lead and a chunk.

On a :class:`StartInterruptionFrame` the engine stops and drops the unsent audio, the serializer's message
for the interruption is sent (Twilio's ``clear``, which drops what Twilio buffered) and a
:class:`PlaybackPositionFrame` (``interrupted=True``) goes upstream with the milliseconds of the current
answer that were played. Frames the serializer carries (marks, ...) are sent in order with the audio.
Audio that arrives while no peer is connected is dropped, not kept for a later peer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from voxpipe.frames.audio import OutputAudioRawFrame
from voxpipe.frames.base import Frame, SystemFrame
from voxpipe.frames.control import EndFrame, StartFrame
from voxpipe.frames.speech import StartInterruptionFrame
from voxpipe.processors.frame_processor import FrameDirection, frame_handler
from voxpipe.transports.playout import AudioOutputTransport, AudioSink, PlayoutParams
from voxpipe.transports.websocket._link import LinkState, WebsocketLink

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.transports.websocket.params import WebsocketParams

__all__ = ["WebsocketOutputTransport", "WebsocketSink"]


class WebsocketSink(AudioSink):
    """Sends each chunk to the peer as one serializer message.

    Args:
        link: the peer holder.
        sample_rate: the playout rate of the chunks (set when the output starts).
    """

    def __init__(self, link: WebsocketLink, sample_rate: int = 0) -> None:
        self._link = link
        self.sample_rate = sample_rate
        self.messages_sent = 0

    async def send(self, message: str | bytes) -> None:
        """Send one message to the peer (dropped if it is gone)."""
        if await self._link.send(message):
            self.messages_sent += 1

    async def write(self, pcm: bytes) -> None:
        """Send ``pcm`` as the serializer's audio message."""
        message = self._link.serializer.serialize(
            OutputAudioRawFrame(audio=pcm, sample_rate=self.sample_rate)
        )
        if message is not None:
            await self.send(message)

    async def clear(self) -> None:
        """Send the serializer's message for an interruption (Twilio's ``clear``)."""
        message = self._link.serializer.serialize(StartInterruptionFrame())
        if message is not None:
            await self.send(message)


class WebsocketOutputTransport(AudioOutputTransport):
    """Sends frames to the peer through the serializer, audio paced in real time.

    Events: ``on_bot_started_speaking(output)``, ``on_bot_stopped_speaking(output)``.

    Args:
        link: the peer holder shared with the input transport.
        params: the transport's settings.
    """

    def __init__(self, link: WebsocketLink, params: WebsocketParams, **kwargs: Any) -> None:
        playout = PlayoutParams(
            chunk_ms=params.audio_out_chunk_ms,
            lead_ms=params.playout_lead_ms,
            max_buffer_ms=params.max_buffer_ms,
            stop_grace_ms=params.stop_grace_ms,
            speaking_interval_ms=params.speaking_interval_ms,
        )
        super().__init__(playout, sample_rate=params.audio_out_sample_rate, **kwargs)
        self._link = link
        self._sink = WebsocketSink(link)  # also sends the messages that go out between answers
        link.add_detach_listener(self.playout.drop)

    @property
    def messages_sent(self) -> int:
        """Messages sent to peers so far."""
        return self._sink.messages_sent

    def playout_rate(self, frame: StartFrame) -> int:
        """The params' rate, else the serializer's wire rate, else the StartFrame's output rate."""
        return self._sample_rate or self._link.serializer.output_sample_rate or frame.audio_out_sample_rate

    async def open_sink(self, sample_rate: int) -> AudioSink:
        """The peer, through the serializer."""
        self._sink.sample_rate = sample_rate
        return self._sink

    def listening(self) -> bool:
        """Whether a peer is connected."""
        return self._link.state is LinkState.CONNECTED

    async def stop(self, frame: EndFrame) -> None:
        """Let the buffered audio play out (while a peer listens), then close the connection."""
        if self.listening():
            await self.playout.drain()
        await self.playout.aclose()
        await self._link.close_connection(1000, "pipeline ended")

    @frame_handler(Frame)
    async def _handle_other(self, frame: Frame, direction: FrameDirection) -> None:
        """Frames the serializer carries go out: system frames now, others after the audio before them."""
        if direction is FrameDirection.DOWNSTREAM and self.listening():
            message = self._link.serializer.serialize(frame)
            if message is not None:
                if isinstance(frame, SystemFrame):
                    await self._sink.send(message)
                else:
                    await self.playout.add_marker(lambda: self._sink.send(message))
        await self.push_frame(frame, direction)

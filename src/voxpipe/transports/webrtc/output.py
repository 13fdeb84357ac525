"""``WebRTCOutputTransport``: the bot's voice to the browser, through the playout engine.

The engine paces the audio at 48 kHz (Opus's rate) and writes each chunk ``playout_lead_ms`` ahead to the
connection's :class:`PlayoutTrack`, which aiortc reads on the RTP clock. On an interruption the engine
drops what it holds and the sink drops what the track had queued, so the position reported for the
truncation is what the browser had been sent up to then (less the lead, counted as not heard).
"""

from __future__ import annotations

from typing import Any

from voxpipe.transports.playout import AudioOutputTransport, AudioSink, PlayoutParams
from voxpipe.transports.webrtc.connection import ConnectionState, WebRTCConnection
from voxpipe.transports.webrtc.params import WebRTCParams
from voxpipe.transports.webrtc.track import WEBRTC_RATE, PlayoutTrack

__all__ = ["WebRTCOutputTransport"]


class _TrackSink(AudioSink):
    """Queues each chunk on the outgoing track; an interruption empties the queue."""

    def __init__(self, track: PlayoutTrack) -> None:
        self._track = track

    async def write(self, pcm: bytes) -> None:
        self._track.push(pcm)

    async def clear(self) -> None:
        self._track.clear()


class WebRTCOutputTransport(AudioOutputTransport):
    """Plays the bot's audio to the browser in real time (see the module docstring).

    Args:
        connection: the browser's peer connection.
        params: the transport's settings.
    """

    def __init__(self, connection: WebRTCConnection, params: WebRTCParams, **kwargs: Any) -> None:
        playout = PlayoutParams(lead_ms=params.playout_lead_ms, max_buffer_ms=params.max_buffer_ms)
        super().__init__(playout, sample_rate=WEBRTC_RATE, **kwargs)
        self._connection = connection

    async def open_sink(self, sample_rate: int) -> AudioSink:
        """The connection's outgoing track."""
        return _TrackSink(self._connection.output_track)

    def listening(self) -> bool:
        """Audio is dropped once the browser has gone."""
        return self._connection.state is not ConnectionState.CLOSED

"""``WebRTCConnection``: one browser's peer connection (aiortc): audio both ways and a data channel.

The page makes the offer (an audio transceiver, ``sendrecv``, and a data channel); :meth:`accept` answers
it. aiortc does not trickle ICE, so the answer already holds every candidate, and the page should wait
for its own gathering to complete before posting the offer.

**Loopback.** aioice leaves 127.0.0.1 out of the addresses it offers, so a browser on the same machine
with only a loopback route (a sandbox, a CI container) could not reach the bot. With ``ice_loopback``
(the default) 127.0.0.1 is offered too: :func:`offer_loopback_candidates` wraps aioice's address lookup
once per process.

Events (handlers get the connection first): ``on_connected``, ``on_closed`` (the visitor left, the
connection failed, or :meth:`aclose` was called) and ``on_message(message)`` (a JSON object from the
page's data channel).
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from voxpipe.audio.dump import AudioDump, open_dump
from voxpipe.errors import ConnectionFailedError, VoxpipeStateError, VoxpipeUsageError
from voxpipe.transports.webrtc.track import PlayoutTrack
from voxpipe.utils.event_emitter import EventEmitter

__all__ = ["ConnectionState", "RemoteAudio", "WebRTCConnection", "offer_loopback_candidates"]

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024
"""Largest data-channel message accepted from the page; bigger ones are dropped (and logged)."""


def offer_loopback_candidates() -> None:
    """Make aioice offer 127.0.0.1 as a host candidate (it leaves loopback out by default). Idempotent."""
    import aioice.ice

    lookup = aioice.ice.get_host_addresses
    if getattr(lookup, "voxpipe_loopback", False):
        return

    def with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        addresses = lookup(use_ipv4, use_ipv6)
        return (["127.0.0.1"] if use_ipv4 else []) + [a for a in addresses if a != "127.0.0.1"]

    with_loopback.voxpipe_loopback = True  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = with_loopback


class ConnectionState(enum.Enum):
    """Where the peer connection is."""

    NEW = "new"
    CONNECTING = "connecting"  # the answer was given; ICE and DTLS are under way
    CONNECTED = "connected"
    CLOSED = "closed"


_MOVES = {
    ConnectionState.NEW: {ConnectionState.CONNECTING, ConnectionState.CLOSED},
    ConnectionState.CONNECTING: {ConnectionState.CONNECTED, ConnectionState.CLOSED},
    ConnectionState.CONNECTED: {ConnectionState.CLOSED},
    ConnectionState.CLOSED: set(),
}


class RemoteAudio:
    """One audio frame from the browser: 16-bit PCM, interleaved."""

    __slots__ = ("channels", "pcm", "sample_rate")

    def __init__(self, pcm: bytes, sample_rate: int, channels: int) -> None:
        self.pcm, self.sample_rate, self.channels = pcm, sample_rate, channels


class WebRTCConnection(EventEmitter):
    """A browser's peer connection, answered by the bot.

    Args:
        ice_loopback: offer 127.0.0.1 as a candidate (see the module docstring).
        name: a readable name for logs.
    """

    def __init__(self, *, ice_loopback: bool = True, name: str = "webrtc") -> None:
        super().__init__()
        if ice_loopback:
            offer_loopback_candidates()
        self._name = name
        self._state = ConnectionState.NEW
        self._pc = RTCPeerConnection()
        self._track = PlayoutTrack()
        self._remote: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._channel: Any = None
        self._closed = asyncio.Event()
        self._closing: asyncio.Task[None] | None = None  # the close started by the page leaving
        self.messages_dropped = 0
        for event in ("on_connected", "on_closed", "on_message"):
            self._register_event_handler(event)
        self._pc.on("track", self._on_track)
        self._pc.on("datachannel", self._on_datachannel)
        self._pc.on("connectionstatechange", self._on_connection_state)

    def __repr__(self) -> str:
        return f"<WebRTCConnection {self._name} {self._state.value}>"

    def __str__(self) -> str:
        return self._name

    @property
    def state(self) -> ConnectionState:
        """Where the connection is."""
        return self._state

    @property
    def output_track(self) -> PlayoutTrack:
        """The bot's voice, sent to the browser."""
        return self._track

    def _set_state(self, new: ConnectionState) -> bool:
        old = self._state
        if new is old:
            return False
        if new not in _MOVES[old]:
            raise VoxpipeStateError(f"{self}: cannot move from {old.value} to {new.value}")
        self._state = new
        logger.info("%s: %s -> %s", self, old.value, new.value)
        return True

    # -- signalling ---------------------------------------------------------------------------------------
    async def accept(self, sdp: str, type: str = "offer") -> dict[str, str]:
        """Answer the page's offer; returns the answer as ``{"sdp": ..., "type": "answer"}``.

        Raises:
            VoxpipeUsageError: the offer is not an offer, or its SDP is not usable.
            VoxpipeStateError: an offer was already answered.
        """
        if type != "offer":
            raise VoxpipeUsageError(f"expected an SDP offer, got type {type!r}")
        if self._state is not ConnectionState.NEW:
            raise VoxpipeStateError(f"{self}: an offer was already answered (state {self._state.value})")
        try:
            await self._pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except (ValueError, KeyError, IndexError) as exc:
            raise VoxpipeUsageError(f"the offer's SDP is not usable: {exc}") from exc
        if not any(t.kind == "audio" for t in self._pc.getTransceivers()):
            raise VoxpipeUsageError("the offer has no audio: the page must add a microphone track")
        self._pc.addTrack(self._track)
        answer = await self._pc.createAnswer()
        await self._pc.setLocalDescription(answer)
        self._set_state(ConnectionState.CONNECTING)
        local = self._pc.localDescription
        return {"sdp": local.sdp, "type": local.type}

    # -- audio from the browser ---------------------------------------------------------------------------
    def _on_track(self, track: Any) -> None:
        if track.kind == "audio" and not self._remote.done():
            self._remote.set_result(track)

    async def audio_frames(self) -> AsyncIterator[RemoteAudio]:
        """The browser's microphone, frame by frame, until the track ends or the connection closes.

        Raises:
            ConnectionFailedError: the connection closed before the browser sent an audio track.
        """
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({self._remote, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
        if not self._remote.done():
            raise ConnectionFailedError(f"{self}: closed before the browser sent its microphone")
        track = self._remote.result()
        dump: AudioDump | None = None
        looked = False  # at $VOXPIPE_AUDIO_DUMP_DIR: once per stream, at its first frame (its format)
        try:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                pcm = frame.to_ndarray().tobytes()
                channels = len(frame.layout.channels)
                if not looked:
                    looked = True
                    dump = open_dump("webrtc-in", frame.sample_rate, channels)
                if dump is not None:
                    dump.write(pcm)
                    dump.note(pts=frame.pts, samples=frame.samples, rate=frame.sample_rate)
                yield RemoteAudio(pcm, frame.sample_rate, channels)
        finally:
            if dump is not None:
                dump.close()

    # -- the data channel ---------------------------------------------------------------------------------
    def _on_datachannel(self, channel: Any) -> None:
        self._channel = channel
        channel.on("message", self._on_channel_message)
        channel.on("close", self._on_channel_close)

    def _on_channel_message(self, message: str | bytes) -> None:
        if len(message) > MAX_MESSAGE_BYTES:
            self.messages_dropped += 1
            logger.warning("%s: dropped a data-channel message of %d bytes", self, len(message))
            return
        try:
            parsed = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            parsed = None
        if not isinstance(parsed, dict):
            self.messages_dropped += 1
            logger.warning("%s: dropped a data-channel message that is not a JSON object", self)
            return
        self._emit_event("on_message", parsed)

    def _on_channel_close(self) -> None:
        logger.info("%s: the page closed its data channel", self)
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self.aclose(), name=f"{self}.close")

    def send_message(self, message: dict[str, Any]) -> bool:
        """Send a JSON object to the page; False when the channel is not open (the message is dropped)."""
        channel = self._channel
        if channel is None or channel.readyState != "open":
            return False
        channel.send(json.dumps(message))
        return True

    # -- life ---------------------------------------------------------------------------------------------
    async def _on_connection_state(self) -> None:
        state = self._pc.connectionState
        logger.info("%s: peer connection %s", self, state)
        if state == "connected" and self._state is ConnectionState.CONNECTING:
            self._set_state(ConnectionState.CONNECTED)
            self._emit_event("on_connected")
        elif state in ("failed", "closed"):
            await self.aclose()

    async def wait_closed(self) -> None:
        """Return once the connection is closed (the visitor left, it failed, or it was closed here)."""
        await self._closed.wait()

    async def aclose(self) -> None:
        """Close the peer connection and stop the tracks; safe to call twice."""
        if self._state is ConnectionState.CLOSED:
            return
        self._set_state(ConnectionState.CLOSED)
        self._track.stop()
        if not self._remote.done():
            self._remote.cancel()
        try:
            await self._pc.close()
        finally:
            self._closed.set()
            self._emit_event("on_closed")

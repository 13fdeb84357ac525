"""The outgoing WebRTC track (queue, padding, clear, silence when idle) and the connection's handling of a
page's junk data-channel messages and of misuse."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("aiortc")

from voxpipe.errors import VoxpipeStateError, VoxpipeUsageError
from voxpipe.transports.webrtc.connection import MAX_MESSAGE_BYTES, WebRTCConnection
from voxpipe.transports.webrtc.track import PlayoutTrack


def samples(frame) -> np.ndarray:
    return frame.to_ndarray().reshape(-1)


async def test_track_sends_queued_audio_then_silence_and_clear_drops_the_rest() -> None:
    track = PlayoutTrack()
    track.push(b"\x10\x00" * 960 * 2 + b"\x10\x00" * 100)  # 40 ms and a bit: the bit is padded to 20 ms
    assert track.queued_ms == 60
    first, second, third = [samples(await track.recv()) for _ in range(3)]
    assert (first == 16).all() and (second == 16).all()
    assert (third[:100] == 16).all() and (third[100:] == 0).all()
    assert (samples(await track.recv()) == 0).all()  # nothing queued: silence, the stream goes on
    track.push(b"\x10\x00" * 960 * 5)
    track.clear()  # the user interrupted
    assert track.queued_ms == 0
    assert (samples(await track.recv()) == 0).all()
    assert track.audio_chunks_sent == 3 and track.chunks_sent == 5
    frame = await track.recv()
    assert frame.sample_rate == 48000 and frame.pts == 5 * 960  # timestamps advance 20 ms per frame
    track.stop()


async def test_junk_from_the_page_is_dropped_and_counted() -> None:
    connection = WebRTCConnection(ice_loopback=False, name="test")
    messages: list[dict] = []
    connection.add_event_handler("on_message", lambda c, m: messages.append(m))
    for junk in ("not json", "[1, 2]", json.dumps("text"), "x" * (MAX_MESSAGE_BYTES + 1)):
        connection._on_channel_message(junk)
    connection._on_channel_message(json.dumps({"type": "hello"}))
    assert connection.messages_dropped == 4
    assert connection.send_message({"type": "x"}) is False  # no channel yet: dropped, not raised
    await connection.aclose()
    await connection.aclose()  # twice is fine
    await connection._close_event_handlers()
    assert messages == [{"type": "hello"}]


async def test_offers_are_checked() -> None:
    connection = WebRTCConnection(ice_loopback=False)
    with pytest.raises(VoxpipeUsageError, match="offer"):
        await connection.accept("v=0", "answer")
    await connection.aclose()
    with pytest.raises(VoxpipeStateError, match="already"):
        await connection.accept("v=0", "offer")


def test_loopback_is_offered_as_a_candidate_once_asked() -> None:
    import aioice.ice

    from voxpipe.transports.webrtc.connection import offer_loopback_candidates

    offer_loopback_candidates()
    offer_loopback_candidates()  # idempotent: wrapped once
    addresses = aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)
    assert addresses[0] == "127.0.0.1" and addresses.count("127.0.0.1") == 1

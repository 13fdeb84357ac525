"""The ``voxpipe web`` application's signalling: bad offers are answered with a clear error and start
nothing; a full house says so; a browser-like aiortc peer gets a spoken answer; leaving tears the bot down."""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from importlib import resources
from pathlib import Path

import httpx
import pytest

from voxpipe.audio import read_wav, resample, rms, silence

aiortc = pytest.importorskip("aiortc")

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription  # noqa: E402

from voxpipe.web.app import WebConfig, create_app  # noqa: E402
from voxpipe.web.bot import BotSettings  # noqa: E402

QUESTION = read_wav(Path(str(resources.files("voxpipe") / "assets" / "question_capital_of_france_16k.wav")))


def app_for(url: str = "ws://127.0.0.1:9/v1/realtime", **kwargs) -> object:
    return create_app(WebConfig(bot=BotSettings(realtime_url=url), **kwargs))


async def post(app, path: str, content: bytes | str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.post(path, content=content)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"not json", 400, "JSON"),
        (json.dumps({"type": "offer"}), 400, "JSON"),
        (json.dumps({"sdp": "v=0", "type": "answer"}), 400, "offer"),
        (json.dumps({"sdp": "garbage", "type": "offer"}), 400, "offer"),
        (b"x" * (70 * 1024), 413, "too large"),
    ],
)
async def test_bad_offers_get_a_clear_error(body, status: int, words: str) -> None:
    app = app_for()
    reply = await post(app, "/api/offer", body)
    assert reply.status_code == status
    assert words in reply.json()["error"]


async def test_an_offer_without_audio_is_refused() -> None:
    client = RTCPeerConnection()
    client.createDataChannel("events")
    await client.setLocalDescription(await client.createOffer())
    try:
        reply = await post(
            app_for(), "/api/offer", json.dumps({"sdp": client.localDescription.sdp, "type": "offer"})
        )
    finally:
        await client.close()
    assert reply.status_code == 400
    assert "no audio" in reply.json()["error"]


async def test_a_full_house_says_so_and_leaving_an_unknown_visitor_is_404() -> None:
    app = app_for(max_visitors=0)
    reply = await post(app, "/api/offer", json.dumps({"sdp": "v=0", "type": "offer"}))
    assert reply.status_code == 503 and "busy" in reply.json()["error"]
    assert (await post(app, "/api/visitors/v99/leave", b"")).status_code == 404


class WavTrack(MediaStreamTrack):
    """A browser's microphone: the question at 48 kHz, then silence, in 20 ms frames on the clock."""

    kind = "audio"

    def __init__(self, pcm: bytes) -> None:
        super().__init__()
        self._pcm, self._offset, self._pts, self._start = pcm, 0, 0, None

    async def recv(self):
        import av

        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        await asyncio.sleep(max(0.0, self._start + self._pts / 48000 - loop.time()))
        chunk = self._pcm[self._offset : self._offset + 1920]
        chunk += bytes(1920 - len(chunk))
        self._offset += 1920
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(chunk)
        frame.sample_rate, frame.pts, frame.time_base = 48000, self._pts, fractions.Fraction(1, 48000)
        self._pts += 960
        return frame


@pytest.mark.slow
async def test_a_peer_gets_a_spoken_answer_and_its_bot_goes_when_it_leaves() -> None:
    from voxpipe.server import LocalRealtimeServer, ServerConfig

    speech = resample(silence(500, 16000) + QUESTION.pcm + silence(3000, 16000), 16000, 48000)
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test")) as server:
        app = app_for(server.realtime_url)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            peer = RTCPeerConnection()
            channel = peer.createDataChannel("events")
            messages: list[dict] = []
            channel.on("message", lambda m: messages.append(json.loads(m)))
            heard: list[bytes] = []
            received = asyncio.Event()

            @peer.on("track")
            def on_track(track) -> None:
                async def listen() -> None:
                    while True:
                        frame = await track.recv()
                        heard.append(frame.to_ndarray().tobytes())
                        if rms(heard[-1]) > 300:
                            received.set()

                peer.listener = asyncio.ensure_future(listen())  # type: ignore[attr-defined]

            peer.addTrack(WavTrack(speech))
            await peer.setLocalDescription(await peer.createOffer())
            reply = await http.post("/api/offer", json={"sdp": peer.localDescription.sdp, "type": "offer"})
            answer = reply.json()
            await peer.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
            try:
                async with asyncio.timeout(20):
                    await received.wait()  # the bot's voice arrived over RTP
                    while not any(m["type"] == "bot.done" for m in messages):
                        await asyncio.sleep(0.05)
                assert (await http.get("/api/status")).json()["visitors"] == 1
                assert (await http.post(f"/api/visitors/{answer['visitor']}/leave")).status_code == 204
                async with asyncio.timeout(10):
                    while (await http.get("/api/status")).json()["visitors"]:
                        await asyncio.sleep(0.05)
            finally:
                peer.listener.cancel()  # type: ignore[attr-defined]
                await peer.close()
    kinds = [m["type"] for m in messages]
    assert "user.speaking" in kinds and "bot.speaking" in kinds and "turn.latency" in kinds
    final = [m["text"] for m in messages if m["type"] == "user.transcript" and m["final"]]
    assert final and final[0].startswith("<")  # the test STT describes the real speech it heard


def test_a_bot_that_cannot_reach_its_realtime_server_tells_the_page_and_goes() -> None:
    from starlette.testclient import TestClient

    app = app_for("ws://127.0.0.1:9/v1/realtime")  # nothing listens there
    with TestClient(app) as client, client.websocket_connect("/ws") as page:
        page.send_bytes(b"\x00" * 3)  # junk audio (odd length) is ignored
        page.send_text("junk")
        messages = []
        while not any(m.get("type") == "error" for m in messages):
            messages.append(json.loads(page.receive_text()))
        error = next(m for m in messages if m["type"] == "error")
        assert error["fatal"] is True and "connect" in error["message"].lower()
        status = client.get("/api/status").json()
        for _ in range(100):  # the bot ended: its visitor is gone (the page sees the socket close)
            if status["visitors"] == 0:
                break
            time.sleep(0.05)
            status = client.get("/api/status").json()
        assert status == {"visitors": 0, "served": 1}

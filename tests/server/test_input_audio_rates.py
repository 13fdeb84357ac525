"""One resampled stream feeds the VAD and the STT: what each engine gets, at its rate, with the padding.

The test engines work at 24 kHz (no resampling at all); here the VAD and the STT take 16 kHz, as Silero
and Whisper do, and the STT records what it is fed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voxpipe.audio import StreamResampler, read_wav, silence
from voxpipe.audio.dump import DUMP_DIR_VARIABLE
from voxpipe.server import LocalRealtimeServer, ServerConfig
from voxpipe.server.connection.conversation import BYTES_PER_MS
from voxpipe.server.connection.input_buffer import InputAudioBuffer
from voxpipe.server.engines.base import STTEngine, STTStream
from voxpipe.server.engines.registry import Engines
from voxpipe.server.engines.testing import encode_tones, load_engines
from voxpipe.server.engines.testing.vad import EnergyVADEngine
from voxpipe.server.engines.types import STTCapabilities, Transcript, TranscriptionOptions

from ._support import RawClient, chunks

pytestmark = pytest.mark.timeout(20)


class _RecordingStream(STTStream):
    sample_rate = 16_000

    def __init__(self, engine: _RecordingSTT) -> None:
        self._audio = bytearray()
        engine.streams.append(self._audio)

    def feed(self, pcm16: bytes) -> None:
        self._audio += pcm16

    async def partial(self) -> str | None:
        return None

    async def snapshot(self) -> str | None:
        return f"{len(self._audio) // 32} ms"

    async def finish(self) -> Transcript:
        return Transcript(
            text=f"{len(self._audio) // 32} ms", language="en", duration_s=len(self._audio) / 32_000
        )

    async def aclose(self) -> None:
        pass


class _RecordingSTT(STTEngine):
    """A 16 kHz STT whose transcript is how much audio it was fed; it keeps every utterance's audio."""

    capabilities = STTCapabilities(sample_rate=16_000, partials=False, languages=None)

    def __init__(self) -> None:
        self.streams: list[bytearray] = []

    def create_stream(self, options: TranscriptionOptions) -> STTStream:
        return _RecordingStream(self)

    async def transcribe(self, pcm16: bytes, options: TranscriptionOptions) -> Transcript:
        raise AssertionError("the session transcribes through streams")


def _engines(stt: _RecordingSTT, vad_rate: int = 16_000) -> Engines:
    base = load_engines()
    return Engines(vad=EnergyVADEngine(vad_rate), stt=stt, llm=base.llm, tts=base.tts)


def _resampled(audio: bytes, size: int) -> bytes:
    """The 16 kHz audio one stream resampler makes from ``audio`` appended in ``size``-byte chunks."""
    resampler = StreamResampler(24_000, 16_000, quality="QQ")
    return b"".join(resampler.process(audio[i : i + size]) for i in range(0, len(audio), size))


async def _turn(stt: _RecordingSTT, audio: bytes, vad_rate: int = 16_000) -> list[dict[str, object]]:
    config = ServerConfig(port=0, engines=_engines(stt, vad_rate))
    async with LocalRealtimeServer(config) as server:
        client = await RawClient.connect(server.realtime_url, "beta")
        assert (await client.recv())["type"] == "session.created"
        await client.send(
            {
                "type": "session.update",
                "session": {
                    "modalities": ["text"],
                    "input_audio_transcription": {"model": "whisper-1"},
                    "turn_detection": {
                        "type": "server_vad",
                        "prefix_padding_ms": 300,
                        "create_response": False,
                    },
                },
            }
        )
        await client.recv_until("session.updated")
        for chunk in chunks(audio):
            await client.send({"type": "input_audio_buffer.append", "audio": chunk})
        events = await client.recv_until("conversation.item.input_audio_transcription.completed")
        await client.aclose()
    return events


async def test_the_stt_gets_the_resampled_stream_from_the_prefix_padding_on() -> None:
    audio = silence(1000, 24_000) + encode_tones("hello there") + silence(1000, 24_000)
    stt = _RecordingSTT()
    events = await _turn(stt, audio)
    started = next(e for e in events if e["type"] == "input_audio_buffer.speech_started")
    stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
    start_ms = started["audio_start_ms"]
    assert isinstance(start_ms, int) and isinstance(stopped["audio_end_ms"], int)
    assert start_ms == 1000 - 300  # the tones start at 1 s; 300 ms of padding before them
    (fed,) = stt.streams
    expected = _resampled(audio, 40 * BYTES_PER_MS)
    assert fed == expected[start_ms * 32 : start_ms * 32 + len(fed)]  # exactly the stream, from the padding
    assert len(fed) // 32 >= stopped["audio_end_ms"] - start_ms  # through the end of the speech


async def test_vad_events_do_not_depend_on_the_vad_rate() -> None:
    audio = silence(700, 24_000) + encode_tones("one two three") + silence(1000, 24_000)
    kinds = ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped")
    seen = []
    for rate in (16_000, 24_000):  # 24 kHz: the VAD takes the protocol audio; the STT its own resampled copy
        events = await _turn(_RecordingSTT(), audio, vad_rate=rate)
        seen.append(
            [
                (e["type"], e.get("audio_start_ms"), e.get("audio_end_ms"))
                for e in events
                if e["type"] in kinds
            ]
        )
    assert seen[0] == seen[1]
    assert len(seen[0]) == 2


def test_the_engine_rate_copy_is_trimmed_with_the_buffer() -> None:
    buffer = InputAudioBuffer(max_ms=10_000, engine_rate=16_000)
    tone = (encode_tones("abc") * 20)[: 48 * 1000]  # one second at 24 kHz
    resampled = b"".join(buffer.append(tone[i : i + 960]) for i in range(0, len(tone), 960))
    assert abs(len(resampled) // 32 - 1000) <= 5  # the resampler's delay, a few ms
    assert buffer.engine_since(0) == resampled
    assert buffer.engine_since(400) == resampled[400 * 32 :]
    buffer.keep_last(300)
    assert buffer.start_ms == 700
    assert buffer.engine_since(0) == resampled[700 * 32 :]  # what is before the buffer is gone
    buffer.clear()
    assert buffer.engine_since(0) == b""
    more = buffer.append(tone[:4800])  # 100 ms more: the copy goes on from the same stream
    held_back = 16_000 - len(resampled) // 2  # samples of the cleared audio the resampler still held
    assert buffer.engine_since(buffer.start_ms) == more[held_back * 2 :]


def test_at_the_engine_rate_of_24k_the_copy_is_the_audio() -> None:
    buffer = InputAudioBuffer(max_ms=1000)
    audio = encode_tones("x")[:4800]
    assert buffer.append(audio) == audio
    assert buffer.engine_since(0) == audio


async def test_the_audio_dump_records_exactly_what_the_server_and_the_stt_got(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DUMP_DIR_VARIABLE, str(tmp_path))
    audio = silence(1000, 24_000) + encode_tones("hello there") + silence(1000, 24_000)
    stt = _RecordingSTT()
    await _turn(stt, audio)
    (server_in,) = tmp_path.glob("server-in-*.wav")
    (stt_in,) = tmp_path.glob("stt-in-*.wav")
    assert read_wav(server_in).pcm == audio  # every append, as decoded
    notes = [json.loads(line) for line in server_in.with_suffix(".jsonl").read_text().splitlines()]
    assert sum(note["samples"] for note in notes) * 2 == len(audio)
    recorded = read_wav(stt_in)
    assert recorded.sample_rate == 16_000
    assert recorded.pcm == bytes(stt.streams[0])  # the utterance exactly as the engine was fed


async def test_nothing_is_recorded_without_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DUMP_DIR_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    await _turn(_RecordingSTT(), silence(500, 24_000) + encode_tones("hi") + silence(1000, 24_000))
    assert list(tmp_path.iterdir()) == []

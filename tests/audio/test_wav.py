"""WAV reading (all widths, every speech fixture), writing and the incremental WavWriter."""

from __future__ import annotations

import io
import re
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from voxpipe.audio import UnsupportedWavError, WavAudio, WavWriter, read_wav, rms_dbfs, write_wav
from voxpipe.errors import VoxpipeStateError, VoxpipeUsageError

from ._signals import SPEECH_DIR, speechlike

FIXTURES = sorted(SPEECH_DIR.glob("*.wav"))


def write_raw_wav(path: Path, frames: bytes, width: int, rate: int = 8000, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)


def test_round_trip_mono(tmp_path: Path) -> None:
    pcm = speechlike(16000, 0.25).tobytes()
    write_wav(tmp_path / "a.wav", pcm, 16000)
    assert read_wav(tmp_path / "a.wav") == WavAudio(pcm=pcm, sample_rate=16000, channels=1, sample_width=2)


def test_round_trip_stereo_with_str_path(tmp_path: Path) -> None:
    pcm = np.stack([speechlike(48000, 0.1), speechlike(48000, 0.1, seed=3)], axis=1).tobytes()
    write_wav(str(tmp_path / "s.wav"), pcm, 48000, channels=2)
    audio = read_wav(str(tmp_path / "s.wav"))
    assert (audio.pcm, audio.sample_rate, audio.channels) == (pcm, 48000, 2)
    assert audio.num_frames == 4800
    assert audio.duration_ms == pytest.approx(100.0)


def test_round_trip_through_file_objects() -> None:
    buffer = io.BytesIO()
    write_wav(buffer, b"\x01\x00\xff\xff", 8000)
    buffer.seek(0)
    assert read_wav(buffer).pcm == b"\x01\x00\xff\xff"


def test_empty_audio_round_trips(tmp_path: Path) -> None:
    write_wav(tmp_path / "e.wav", b"", 24000)
    audio = read_wav(tmp_path / "e.wav")
    assert (audio.pcm, audio.num_frames, audio.duration_ms) == (b"", 0, 0.0)


def test_writer_writes_as_audio_arrives(tmp_path: Path) -> None:
    path = tmp_path / "live.wav"
    pcm = speechlike(24000, 0.2).tobytes()
    with WavWriter(path, 24000) as writer:
        for start in range(0, len(pcm), 960):
            writer.write(pcm[start : start + 960])
        # The header is kept current: the file reads back completely before close.
        assert read_wav(path).pcm == pcm
        assert writer.frames_written == 4800
        assert writer.duration_ms == pytest.approx(200.0)
        writer.write(b"")
    assert writer.closed
    assert read_wav(path).pcm == pcm
    assert re.fullmatch(r"WavWriter\('.*live\.wav', 24000 Hz x1, closed, frames=4800\)", repr(writer))


def test_writer_header_is_canonical(tmp_path: Path) -> None:
    path = tmp_path / "h.wav"
    with WavWriter(path, 16000, channels=2) as writer:
        writer.write(bytes(4 * 10))
    header = path.read_bytes()[:44]
    riff, size, wave_id, fmt, fmt_len, tag, channels, rate, byte_rate, align, bits, data, data_len = (
        struct.unpack("<4sI4s4sIHHIIHH4sI", header)
    )
    assert (riff, wave_id, fmt, data) == (b"RIFF", b"WAVE", b"fmt ", b"data")
    fields = (size, fmt_len, tag, channels, rate, byte_rate, align, bits, data_len)
    assert fields == (36 + 40, 16, 1, 2, 16000, 64000, 4, 16, 40)


def test_writer_refuses_writes_after_close_and_closes_twice(tmp_path: Path) -> None:
    writer = WavWriter(tmp_path / "c.wav", 8000)
    writer.close()
    writer.close()
    with pytest.raises(VoxpipeStateError, match="closed"):
        writer.write(b"\x00\x00")


def test_writer_refuses_partial_frames(tmp_path: Path) -> None:
    with (
        WavWriter(tmp_path / "p.wav", 48000, channels=2) as writer,
        pytest.raises(VoxpipeUsageError, match="4-byte frames"),
    ):
        writer.write(b"\x00" * 6)


@pytest.mark.parametrize(("rate", "channels", "match"), [(0, 1, "sample_rate"), (8000, 0, "channels")])
def test_writer_refuses_bad_formats(tmp_path: Path, rate: int, channels: int, match: str) -> None:
    with pytest.raises(VoxpipeUsageError, match=match):
        WavWriter(tmp_path / "x.wav", rate, channels)
    with pytest.raises(VoxpipeUsageError, match=match):
        write_wav(tmp_path / "y.wav", b"", rate, channels)


def test_reads_8_bit_as_16_bit(tmp_path: Path) -> None:
    write_raw_wav(tmp_path / "u8.wav", bytes([0, 128, 255, 129]), width=1)
    audio = read_wav(tmp_path / "u8.wav")
    assert audio.sample_width == 2
    assert np.frombuffer(audio.pcm, "<i2").tolist() == [-32768, 0, 32512, 256]


def test_reads_24_bit_as_16_bit(tmp_path: Path) -> None:
    values = [0, 1 << 8, -(1 << 8), (1 << 23) - 1, -(1 << 23), 0x12345]
    raw = b"".join(v.to_bytes(3, "little", signed=True) for v in values)
    write_raw_wav(tmp_path / "s24.wav", raw, width=3)
    assert np.frombuffer(read_wav(tmp_path / "s24.wav").pcm, "<i2").tolist() == [v >> 8 for v in values]


def test_reads_32_bit_stereo_as_16_bit(tmp_path: Path) -> None:
    values = np.array([[0, -1], [1 << 16, -(1 << 31)], [(1 << 31) - 1, 0x7654321]], dtype="<i4")
    write_raw_wav(tmp_path / "s32.wav", values.tobytes(), width=4, channels=2)
    audio = read_wav(tmp_path / "s32.wav")
    assert audio.channels == 2
    assert np.frombuffer(audio.pcm, "<i2").reshape(-1, 2).tolist() == (values >> 16).tolist()


def test_float_wav_is_refused_naming_the_format(tmp_path: Path) -> None:
    fmt = struct.pack("<HHIIHH", 3, 1, 16000, 64000, 4, 32)  # format tag 3: IEEE float
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", 8) + bytes(8)
    (tmp_path / "f.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(UnsupportedWavError, match=r"unknown format: 3.*integer PCM"):
        read_wav(tmp_path / "f.wav")


@pytest.mark.parametrize("content", [b"", b"not a wav file at all, just text"], ids=["empty", "text"])
def test_non_wav_files_are_refused(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "bad.wav").write_bytes(content)
    with pytest.raises(UnsupportedWavError, match=r"bad\.wav as a WAV file"):
        read_wav(tmp_path / "bad.wav")


def test_unsupported_wav_error_is_a_usage_error() -> None:
    assert issubclass(UnsupportedWavError, VoxpipeUsageError)
    assert issubclass(UnsupportedWavError, ValueError)


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_wav(tmp_path / "missing.wav")


def test_the_speech_fixtures_are_in_the_repository() -> None:
    assert len(FIXTURES) == 8, SPEECH_DIR


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_reads_every_speech_fixture(path: Path) -> None:
    audio = read_wav(path)
    rate_khz = int(re.search(r"_(\d+)k\.wav$", path.name).group(1))  # type: ignore[union-attr]
    assert audio.sample_rate == rate_khz * 1000
    assert (audio.channels, audio.sample_width) == (1, 2)
    assert 1000 < audio.duration_ms < 7000
    assert -45 < rms_dbfs(audio.pcm) < -3  # speech, not silence or a clipped mess

"""``VOXPIPE_AUDIO_DUMP_DIR`` recordings: off unless asked, WAV plus notes, never breaking the audio path."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from voxpipe.audio import read_wav
from voxpipe.audio.dump import DUMP_DIR_VARIABLE, open_dump


def test_off_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DUMP_DIR_VARIABLE, raising=False)
    assert open_dump("stt-in", 16000) is None
    monkeypatch.setenv(DUMP_DIR_VARIABLE, "")
    assert open_dump("stt-in", 16000) is None


def test_writes_the_audio_and_its_notes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DUMP_DIR_VARIABLE, str(tmp_path / "new"))
    dump = open_dump("webrtc-in", 48000, 2)
    assert dump is not None and dump.path.parent == tmp_path / "new"
    dump.write(b"\x01\x00\x02\x00" * 960)
    dump.note(pts=0, samples=960)
    dump.write(b"\x03\x00\x04\x00" * 960)
    dump.note(pts=960, samples=960)
    dump.close()
    dump.close()  # twice is fine
    dump.write(b"\x00\x00\x00\x00")  # after close: ignored
    recorded = read_wav(dump.path)
    assert (recorded.sample_rate, recorded.channels) == (48000, 2)
    assert recorded.pcm == b"\x01\x00\x02\x00" * 960 + b"\x03\x00\x04\x00" * 960
    notes = [json.loads(line) for line in dump.path.with_suffix(".jsonl").read_text().splitlines()]
    assert [n["pts"] for n in notes] == [0, 960] and all("t" in n for n in notes)
    other = open_dump("webrtc-in", 48000, 2)  # each stream gets its own file
    assert other is not None and other.path != dump.path
    other.close()


def test_a_directory_that_cannot_be_made_is_logged_and_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(DUMP_DIR_VARIABLE, str(blocker / "inside"))
    with caplog.at_level(logging.WARNING, logger="voxpipe.audio.dump"):
        assert open_dump("stt-in", 16000) is None
    assert "cannot record stt-in audio" in caplog.text

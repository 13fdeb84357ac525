"""Recording what a stage of the audio path received, for diagnosis: ``VOXPIPE_AUDIO_DUMP_DIR``.

When a transcript is wrong, the first question is what the recogniser actually heard: audio can be lost or
damaged anywhere between the microphone and the STT (the codec, the network, a late event loop, a
resampler). With ``VOXPIPE_AUDIO_DUMP_DIR=/some/dir`` set, the stages that support it write what they get to
WAV files there, one file per stream, named ``<stage>-<pid>-<n>.wav`` (``n`` counts streams in the process):

- ``webrtc-in``: the browser's microphone as aiortc decoded it (before any resampling), with a
  ``.jsonl`` sidecar: one line per frame, its RTP ``pts`` (in samples), its sample count and the
  monotonic time it reached us, so gaps in the RTP timeline and late or bursty delivery show.
- ``stt-in``: each user utterance exactly as fed to the STT engine (after every resampling).

Unset (the default), nothing is recorded and :func:`open_dump` returns None: the stages pay one
environment lookup per stream. Files are written as the audio comes, so a crash leaves what was heard.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from voxpipe.audio.wav import WavWriter

__all__ = ["DUMP_DIR_VARIABLE", "AudioDump", "open_dump"]

logger = logging.getLogger(__name__)

DUMP_DIR_VARIABLE = "VOXPIPE_AUDIO_DUMP_DIR"
"""The environment variable naming the directory to record into (unset or empty: no recording)."""

_counter = itertools.count(1)


class AudioDump:
    """One recorded stream: a WAV file written as audio comes, and an optional ``.jsonl`` of notes.

    Args:
        path: the WAV file to write (its ``.jsonl`` sidecar sits next to it, made on the first note).
        sample_rate: the stream's rate.
        channels: its channel count (interleaved 16-bit PCM).
    """

    def __init__(self, path: Path, sample_rate: int, channels: int = 1) -> None:
        self.path = path
        self._wav = WavWriter(path, sample_rate, channels)
        self._notes: Any = None

    def __repr__(self) -> str:
        return f"<AudioDump {self.path}>"

    def write(self, pcm: bytes | bytearray | memoryview) -> None:
        """Append 16-bit PCM (ignored once closed)."""
        if not self._wav.closed:
            self._wav.write(pcm)

    def note(self, **fields: Any) -> None:
        """Append one JSON line of facts about the stream (``t``: the monotonic time, is added)."""
        if self._wav.closed:
            return
        if self._notes is None:
            self._notes = self.path.with_suffix(".jsonl").open("w", encoding="utf-8")
        self._notes.write(json.dumps({"t": round(time.monotonic(), 6), **fields}) + "\n")

    def close(self) -> None:
        """Finish the files; safe to call twice."""
        if not self._wav.closed:
            self._wav.close()
            logger.info("recorded %.0f ms of audio to %s", self._wav.duration_ms, self.path)
        if self._notes is not None:
            self._notes.close()
            self._notes = None


def open_dump(stage: str, sample_rate: int, channels: int = 1) -> AudioDump | None:
    """A new recording of ``stage`` when ``$VOXPIPE_AUDIO_DUMP_DIR`` is set, else None.

    A directory that cannot be written is logged once per stream and recording is skipped: diagnosis
    never breaks the audio path.
    """
    directory = os.environ.get(DUMP_DIR_VARIABLE)
    if not directory:
        return None
    path = Path(directory) / f"{stage}-{os.getpid()}-{next(_counter)}.wav"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return AudioDump(path, sample_rate, channels)
    except OSError as exc:
        logger.warning("cannot record %s audio to %s: %s", stage, directory, exc)
        return None

"""``WavFileOutputTransport``: plays the bot's audio into a WAV file, like a speaker would.

The file is a sink on the playout engine (``voxpipe.transports.playout``): in real-time mode (the default)
audio is written at the speed of speech, so the position heard is what a listener would have heard so
far; when the user interrupts, the unplayed rest is dropped (never written) and the position reported
upstream in a :class:`PlaybackPositionFrame`. With ``realtime=False`` audio is "played" the moment it
arrives (offline rendering, fast tests). The engine also announces the bot's speaking
(:class:`BotStartedSpeakingFrame`, :class:`BotSpeakingFrame`, :class:`BotStoppedSpeakingFrame`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voxpipe.audio import WavWriter
from voxpipe.transports.playout import AudioOutputTransport, AudioSink, PlayoutParams

__all__ = ["WavFileOutputParams", "WavFileOutputTransport", "WavFileSink"]


@dataclass(kw_only=True)
class WavFileOutputParams(PlayoutParams):
    """How the bot's audio is played into the file: the playout settings (see :class:`PlayoutParams`:
    ``realtime``, ``chunk_ms``, ``max_buffer_ms``, ``stop_grace_ms``, ``speaking_interval_ms``, ...) and
    the file's rate.

    Attributes:
        sample_rate: rate of the file; None uses the StartFrame's ``audio_out_sample_rate``.
    """

    sample_rate: int | None = None


class WavFileSink(AudioSink):
    """Writes mono PCM16 chunks to a WAV file (created, or overwritten, when opened).

    Args:
        path: the file.
        sample_rate: its rate.
    """

    def __init__(self, path: Path, sample_rate: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer: WavWriter | None = WavWriter(path, sample_rate, 1)

    async def write(self, pcm: bytes) -> None:
        """Append ``pcm`` to the file."""
        if self._writer is not None:
            self._writer.write(pcm)

    async def aclose(self) -> None:
        """Finish the file (its header gets the final size)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class WavFileOutputTransport(AudioOutputTransport):
    """Writes every :class:`OutputAudioRawFrame` it receives (resampled to one rate, mono) to a WAV file.

    Events: ``on_bot_started_speaking(transport)``, ``on_bot_stopped_speaking(transport)``.

    Args:
        path: the file to write (created or overwritten when the pipeline starts).
        params: rate and pacing settings.
    """

    def __init__(self, path: str | Path, params: WavFileOutputParams | None = None, **kwargs: object) -> None:
        params = params or WavFileOutputParams()
        super().__init__(params, sample_rate=params.sample_rate, **kwargs)
        self._path = Path(path)

    async def open_sink(self, sample_rate: int) -> AudioSink:
        """The WAV file at the playout rate."""
        return WavFileSink(self._path, sample_rate)

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
class WavFileOutputParams:
    """How the bot's audio is played into the file.

    Attributes:
        sample_rate: rate of the file; None uses the StartFrame's ``audio_out_sample_rate``.
        realtime: play at the speed of speech (the playback position follows the clock).
        chunk_ms: playback granularity in real-time mode.
        max_buffer_ms: most audio buffered ahead of playback; beyond it the transport stops taking audio.
        stop_grace_ms: in real-time mode, how long the buffer may run dry before the bot counts as
            stopped when no ``TTSStoppedFrame`` said so.
        speaking_interval_ms: how often a ``BotSpeakingFrame`` is sent while audio plays.
    """

    sample_rate: int | None = None
    realtime: bool = True
    chunk_ms: int = 20
    max_buffer_ms: int = 3000
    stop_grace_ms: int = 500
    speaking_interval_ms: int = 200


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
        playout = PlayoutParams(
            realtime=params.realtime,
            chunk_ms=params.chunk_ms,
            max_buffer_ms=params.max_buffer_ms,
            stop_grace_ms=params.stop_grace_ms,
            speaking_interval_ms=params.speaking_interval_ms,
        )
        super().__init__(playout, sample_rate=params.sample_rate, **kwargs)
        self._path = Path(path)

    async def open_sink(self, sample_rate: int) -> AudioSink:
        """The WAV file at the playout rate."""
        return WavFileSink(self._path, sample_rate)

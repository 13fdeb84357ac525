"""``AudioBufferProcessor``: records the conversation, the user and the bot on one timeline.

It records the user's audio (``InputAudioRawFrame``) and the bot's (``OutputAudioRawFrame``, so
``TTSAudioRawFrame`` too) that pass through it, both resampled to one rate, mono, each on its own track.
The tracks share the recording's clock: a frame lands where the clock is when it arrives (silence fills the
gaps, so a pause stays a pause), or right after the track's previous audio when that is later (an answer
that arrives faster than it plays is laid end to end, as the speaker will play it). An interruption drops
the part of the bot's track that lies in the future: it was never heard.

Where to put it: where both kinds of audio pass. A speech-to-speech service consumes the user's audio, so
in ``input → service → output`` put the recorder after the service (it hears the bot) and its
:meth:`~AudioBufferProcessor.user_side` tap before the service (it hears the user, on the same recording).

Events (pipecat's): ``on_audio_data(processor, audio, sample_rate, num_channels)`` with both tracks mixed
(``num_channels=1``) or side by side (``num_channels=2``: user left, bot right), and
``on_track_audio_data(processor, user_audio, bot_audio, sample_rate, num_channels)``, fired every
``buffer_size`` bytes (when it is not 0) and when recording stops. :meth:`write_wav` and
:meth:`write_track_wavs` save what was recorded::

    recorder = AudioBufferProcessor(num_channels=2)
    pipeline = Pipeline([transport.input(), recorder.user_side(), llm, recorder, transport.output()])
    await recorder.start_recording()
    ...
    recorder.write_wav("call.wav")   # stereo: the user left, the bot right
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import numpy as np

from voxpipe.audio import StreamResampler, write_wav
from voxpipe.errors import VoxpipeUsageError
from voxpipe.frames.audio import InputAudioRawFrame, OutputAudioRawFrame
from voxpipe.frames.base import Frame
from voxpipe.frames.control import CancelFrame, EndFrame, StartFrame
from voxpipe.frames.speech import StartInterruptionFrame
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor

__all__ = ["AudioBufferProcessor"]

logger = logging.getLogger(__name__)

_JITTER_S = 0.06
"""Audio arriving within this much of where its track ends is appended, not placed by the clock: frames
of a live stream arrive a little early or late, and that must not cut or pad the recording."""


class _Track:
    """One side's audio at the recording rate, placed on the recording's timeline."""

    def __init__(self) -> None:
        self.pcm = bytearray()
        self._resamplers: dict[tuple[int, int], StreamResampler] = {}

    def add(self, frame: Any, rate: int, at_s: float) -> None:
        key = (frame.sample_rate, frame.num_channels)
        resampler = self._resamplers.get(key)
        if resampler is None:
            resampler = StreamResampler(frame.sample_rate, rate, channels=frame.num_channels, out_channels=1)
            self._resamplers[key] = resampler
        pcm = resampler.process(frame.audio)
        at = int(at_s * rate) * 2
        if at > len(self.pcm) + int(_JITTER_S * rate) * 2:
            self.pcm += bytes(at - len(self.pcm))  # silence until now
        self.pcm += pcm

    def cut_at(self, at_s: float, rate: int) -> None:
        at = int(at_s * rate) * 2
        if at < len(self.pcm):
            del self.pcm[at:]

    def take(self) -> bytes:
        data = bytes(self.pcm)
        self.pcm.clear()
        return data


class AudioBufferProcessor(FrameProcessor):
    """Records the user's and the bot's audio (see the module docstring).

    Args:
        sample_rate: the recording's rate; None: the StartFrame's ``audio_out_sample_rate``.
        num_channels: 1 mixes both sides into one track, 2 keeps them apart (user left, bot right).
        buffer_size: emit the audio events every time this many bytes of each track are recorded
            (0: only when recording stops).

    Raises:
        VoxpipeUsageError: ``num_channels`` is not 1 or 2.
    """

    def __init__(
        self,
        *,
        sample_rate: int | None = None,
        num_channels: int = 1,
        buffer_size: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if num_channels not in (1, 2):
            raise VoxpipeUsageError(f"num_channels must be 1 or 2, got {num_channels!r}")
        self._init_rate = sample_rate
        self._rate = sample_rate or 0
        self._num_channels = num_channels
        self._buffer_size = buffer_size
        self._started_at = 0.0
        self._tap: _UserTap | None = None
        self._user = _Track()
        self._bot = _Track()
        self._recording = False
        self.user_audio = bytearray()  # everything recorded, for write_wav (the events get pieces)
        self.bot_audio = bytearray()
        for event in ("on_audio_data", "on_track_audio_data"):
            self._register_event_handler(event)

    @property
    def sample_rate(self) -> int:
        """The recording's rate (0 until the pipeline starts, unless given)."""
        return self._rate

    @property
    def recording(self) -> bool:
        """Whether audio is being recorded."""
        return self._recording

    async def start(self, frame: StartFrame) -> None:
        """Take the run's output rate when none was given."""
        self._rate = self._init_rate or frame.audio_out_sample_rate

    def user_side(self) -> FrameProcessor:
        """A tap that records the user's audio into this recording; put it before the service."""
        if self._tap is None:
            self._tap = _UserTap(self, name=f"{self}.user")
        return self._tap

    def _now(self) -> float:
        return asyncio.get_running_loop().time() - self._started_at

    def _record_user(self, frame: InputAudioRawFrame) -> None:
        if self._recording and self._rate:
            self._user.add(frame, self._rate, self._now())

    async def start_recording(self) -> None:
        """Start recording: the timeline starts now."""
        self._started_at = asyncio.get_running_loop().time()
        self._recording = True

    async def stop_recording(self) -> None:
        """Stop recording and emit what is left."""
        if self._recording:
            self._recording = False
            await self._emit()

    def has_audio(self) -> bool:
        """Whether anything was recorded."""
        return bool(self.user_audio or self.bot_audio or self._user.pcm or self._bot.pcm)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Record audio frames; cut the bot's future on an interruption; pass everything on."""
        if self._recording and self._rate:
            if isinstance(frame, InputAudioRawFrame):
                self._user.add(frame, self._rate, self._now())
            elif isinstance(frame, OutputAudioRawFrame):
                self._bot.add(frame, self._rate, self._now())
            elif isinstance(frame, StartInterruptionFrame):
                self._bot.cut_at(self._now(), self._rate)
            if self._buffer_size and max(len(self._user.pcm), len(self._bot.pcm)) >= self._buffer_size:
                await self._emit()
        if isinstance(frame, EndFrame | CancelFrame):
            await self.stop_recording()
        await self.push_frame(frame, direction)

    async def _emit(self) -> None:
        user, bot = _aligned(self._user.take(), self._bot.take())
        self.user_audio += user
        self.bot_audio += bot
        if not user:
            return
        channels = self._num_channels
        await self._call_event_handler("on_track_audio_data", user, bot, self._rate, 1)
        await self._call_event_handler("on_audio_data", _combine(user, bot, channels), self._rate, channels)

    def write_wav(self, path: str | Path) -> Path:
        """Save the whole recording (mixed, or stereo with ``num_channels=2``) as a 16-bit WAV file."""
        user, bot = _aligned(bytes(self.user_audio), bytes(self.bot_audio))
        write_wav(path, _combine(user, bot, self._num_channels), self._rate, self._num_channels)
        return Path(path)

    def write_track_wavs(self, user_path: str | Path, bot_path: str | Path) -> None:
        """Save each side as its own mono WAV file (same length, same timeline)."""
        user, bot = _aligned(bytes(self.user_audio), bytes(self.bot_audio))
        write_wav(user_path, user, self._rate, 1)
        write_wav(bot_path, bot, self._rate, 1)


class _UserTap(FrameProcessor):
    """Records the user's audio into its recorder's user track; passes every frame on."""

    def __init__(self, recorder: AudioBufferProcessor, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._recorder = recorder

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, InputAudioRawFrame):
            self._recorder._record_user(frame)
        await self.push_frame(frame, direction)


def _aligned(user: bytes, bot: bytes) -> tuple[bytes, bytes]:
    """Both tracks padded with silence to the same length."""
    size = max(len(user), len(bot))
    return user + bytes(size - len(user)), bot + bytes(size - len(bot))


def _combine(user: bytes, bot: bytes, channels: int) -> bytes:
    a = np.frombuffer(user, dtype=np.int16)
    b = np.frombuffer(bot, dtype=np.int16)
    if channels == 2:
        return np.column_stack((a, b)).astype(np.int16).tobytes()
    mixed = np.clip(a.astype(np.int32) + b.astype(np.int32), -32768, 32767)
    return mixed.astype(np.int16).tobytes()

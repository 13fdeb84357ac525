"""Transcribing one user utterance while it is spoken, and reporting it when asked to.

The STT runs for every user audio item, whether or not the client asked for
``input_audio_transcription``: the LLM needs the words (the real model hears the audio; this cascade
reads the transcript). The ``conversation.item.input_audio_transcription.*`` events are only sent when
transcription is on, as OpenAI does.
"""

from __future__ import annotations

import asyncio
import logging

from voxpipe.audio import StreamResampler
from voxpipe.audio.dump import open_dump
from voxpipe.server.engines.base import STTEngine, STTStream
from voxpipe.server.engines.types import Transcript, TranscriptionOptions

__all__ = ["UtteranceTranscriber"]

logger = logging.getLogger(__name__)


class UtteranceTranscriber:
    """Feeds one utterance to an STT stream at the engine's rate.

    Args:
        engine: the STT engine.
        options: the session's transcription options.
        input_rate: the rate of the audio ``feed`` is given. The session passes the engine's own rate
            when its one resampled stream (``InputAudioBuffer``) is at that rate, so nothing is resampled
            here; otherwise 24 kHz audio, resampled here.
    """

    def __init__(self, engine: STTEngine, options: TranscriptionOptions, input_rate: int = 24000) -> None:
        self._stream: STTStream = engine.create_stream(options)
        rate = self._stream.sample_rate
        self._resampler = StreamResampler(input_rate, rate, quality="QQ") if rate != input_rate else None
        self._dump = open_dump("stt-in", rate)  # what the STT hears, when $VOXPIPE_AUDIO_DUMP_DIR is set

    def feed(self, audio: bytes) -> None:
        """Add audio at ``input_rate`` (cheap; the engine may work on it in the background)."""
        pcm = self._resampler.process(audio) if self._resampler is not None else audio
        if pcm:
            self._stream.feed(pcm)
            if self._dump is not None:
                self._dump.write(pcm)

    async def partial(self) -> str | None:
        """Interim words, if the engine has them."""
        return await self._stream.partial()

    async def snapshot(self) -> str | None:
        """The transcript of everything fed so far, leaving the stream open (None: not known yet)."""
        return await self._stream.snapshot()

    async def finish(self) -> Transcript:
        """The transcript of everything fed; closes the stream."""
        try:
            if self._resampler is not None:
                tail = self._resampler.flush()
                if tail:
                    self._stream.feed(tail)
                    if self._dump is not None:
                        self._dump.write(tail)
            return await self._stream.finish()
        finally:
            self._close_dump()
            await self._stream.aclose()

    async def aclose(self) -> None:
        """Drop the utterance without transcribing it."""
        self._close_dump()
        await self._stream.aclose()

    def _close_dump(self) -> None:
        if self._dump is not None:
            self._dump.close()


async def settle(future: asyncio.Future[str], text: str) -> None:
    """Resolve a words future unless it was already resolved or cancelled."""
    if not future.done():
        future.set_result(text)

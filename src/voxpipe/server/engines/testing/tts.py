"""A deterministic TTS: one tone per character (see ``tones``), at 24 kHz, streamed word by word.

The audio is never silent for a non-empty text, so VAD and level checks see "speech", and the test STT
reads it back. Every protocol voice is accepted and sounds the same; ``speed`` shortens the tones.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines.base import TTSEngine
from voxpipe.server.engines.testing.tones import SAMPLE_RATE, encode_tones
from voxpipe.server.engines.types import PROTOCOL_VOICES, TTSCapabilities

__all__ = ["ToneTTSEngine"]


class ToneTTSEngine(TTSEngine):
    """Deterministic TTS (see the module docstring).

    Args:
        chunk_delay_s: pause after each yielded word, to make synthesis take time in tests.
    """

    def __init__(self, chunk_delay_s: float = 0.0) -> None:
        self.capabilities = TTSCapabilities(
            sample_rate=SAMPLE_RATE, voices={voice: voice for voice in PROTOCOL_VOICES}, streaming=True
        )
        self._chunk_delay_s = chunk_delay_s

    async def stream(self, text: str, voice: str, speed: float = 1.0) -> AsyncIterator[bytes]:
        """Yield the tones of ``text``, one chunk per word (with the space before it)."""
        if voice not in self.capabilities.voices:
            raise VoxpipeUsageError(f"unknown voice {voice!r}; choose one of: {', '.join(PROTOCOL_VOICES)}")
        words = text.split(" ")
        for index, word in enumerate(words):
            chunk = encode_tones(word if index == 0 else " " + word, speed=speed)
            if chunk:
                yield chunk
            await asyncio.sleep(self._chunk_delay_s)  # also with 0: let other sessions run between words

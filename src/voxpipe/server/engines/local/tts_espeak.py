"""Fallback text-to-speech with the ``espeak-ng`` program (Debian package ``espeak-ng``), 22.05 kHz.

Robotic but tiny and always available on Debian (``apt-get install -y espeak-ng``); used when Piper is not
installed. Each sentence is one ``espeak-ng --stdout`` process whose WAV is streamed out as soon as it
ends; cancelling kills the running process. espeak-ng's voice variants give the protocol's voice names
some variety (``+f*`` female, ``+m*`` male).
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import shutil
import wave
from collections.abc import AsyncIterator

from voxpipe.server.engines.base import EngineError, TTSCapabilities, TTSEngine
from voxpipe.server.engines.local.tts import check_voice_and_speed

__all__ = ["EspeakTTSEngine", "espeak_available"]

logger = logging.getLogger(__name__)

_RATE = 22_050
_WPM = 175  # espeak-ng words per minute at speed 1.0
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
_VOICES = {
    "alloy": "en-us+f3",
    "ash": "en-us+m3",
    "ballad": "en-us+m2",
    "coral": "en-us+f2",
    "echo": "en-us+m1",
    "fable": "en-gb+m3",
    "onyx": "en-us+m7",
    "nova": "en-us+f4",
    "sage": "en-us+f1",
    "shimmer": "en-us+f5",
    "verse": "en-us+m4",
    "marin": "en-us+f3",
    "cedar": "en-us+m6",
}


def espeak_available() -> bool:
    """Whether the ``espeak-ng`` program is on ``PATH``."""
    return shutil.which("espeak-ng") is not None


class EspeakTTSEngine(TTSEngine):
    """espeak-ng in a subprocess per sentence; nothing to load."""

    capabilities = TTSCapabilities(sample_rate=_RATE, voices=_VOICES, streaming=True)

    async def stream(self, text: str, voice: str, speed: float = 1.0) -> AsyncIterator[bytes]:
        engine_voice = check_voice_and_speed(self.capabilities, voice, speed)
        for sentence in (s for s in _SENTENCE_END.split(text.strip()) if s.strip()):
            yield await self._speak(sentence, engine_voice, round(_WPM * speed))

    async def _speak(self, sentence: str, voice: str, wpm: int) -> bytes:
        process = await asyncio.create_subprocess_exec(
            "espeak-ng", "-v", voice, "-s", str(wpm), "--stdout", "--", sentence,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            out, err = await process.communicate()
        finally:
            if process.returncode is None:  # cancelled: do not leave the synthesizer running
                process.kill()
                await process.wait()
        if process.returncode != 0:
            raise EngineError(
                f"espeak-ng exited with {process.returncode}: {err.decode(errors='replace')[:200]}",
                code="tts_failed",
                recoverable=True,
            )
        with wave.open(io.BytesIO(out)) as wav:
            if wav.getframerate() != _RATE or wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                raise EngineError(
                    f"espeak-ng wrote {wav.getframerate()} Hz, {wav.getsampwidth() * 8}-bit, "
                    f"{wav.getnchannels()} channels; expected {_RATE} Hz 16-bit mono",
                    code="tts_failed",
                )
            return wav.readframes(wav.getnframes())

"""The ``test`` engine set: deterministic fakes of the four engines, for protocol tests and benchmarks.

=====  ======================  ===============================================================
role   engine                  behaviour
=====  ======================  ===============================================================
VAD    ``EnergyVADEngine``     RMS threshold per 10 ms frame, sample-exact timing (24 kHz)
STT    ``ToneSTTEngine``       reads back the test TTS's tones; else a registered transcript or
                               ``"<N ms of audio>"``
LLM    ``ScriptedLLMEngine``   echo, fixed answers, ``get_weather`` on "weather in X"
TTS    ``ToneTTSEngine``       one 30 ms tone per character, 24 kHz, word by word
=====  ======================  ===============================================================

So a test can *speak* text with ``encode_tones`` and the server hears exactly that text. Nothing here
loads a model or touches the network; every engine is cheap to build.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines.registry import Engines
from voxpipe.server.engines.testing.llm import ScriptedLLMEngine
from voxpipe.server.engines.testing.stt import ToneSTTEngine
from voxpipe.server.engines.testing.tones import decode_tones, encode_tones, normalize_text
from voxpipe.server.engines.testing.tts import ToneTTSEngine
from voxpipe.server.engines.testing.vad import EnergyVADEngine
from voxpipe.server.scheduling import FairShare

__all__ = [
    "EnergyVADEngine",
    "ScriptedLLMEngine",
    "ToneSTTEngine",
    "ToneTTSEngine",
    "decode_tones",
    "encode_tones",
    "load_engines",
    "normalize_text",
]


def load_engines(
    *,
    replies: Mapping[str, str] | None = None,
    transcripts: Mapping[str, str] | None = None,
    token_delay_s: float = 0.0,
    tts_chunk_delay_s: float = 0.0,
    story_words: int = 200,
    fair_share: bool = False,
    **unknown: Any,
) -> Engines:
    """Build the test engine set.

    Args:
        replies: fixed answers of the LLM, keyed by a substring of the user's text.
        transcripts: SHA-256 hex of PCM16 24 kHz audio -> transcript, for the STT.
        token_delay_s: pause between the LLM's words (makes responses long enough to cancel).
        tts_chunk_delay_s: pause after each synthesized word.
        story_words: words in the LLM's ``long story`` answer.
        fair_share: share the LLM and TTS between sessions as the local set does
            (``voxpipe.server.scheduling``); off by default, the test engines cost nothing.

    Raises:
        VoxpipeUsageError: an unknown option.
    """
    if unknown:
        raise VoxpipeUsageError(f"unknown options for the test engines: {', '.join(sorted(unknown))}")
    return Engines(
        vad=EnergyVADEngine(),
        stt=ToneSTTEngine(transcripts),
        llm=ScriptedLLMEngine(replies, token_delay_s=token_delay_s, story_words=story_words),
        tts=ToneTTSEngine(tts_chunk_delay_s),
        fair_share=FairShare() if fair_share else None,
    )

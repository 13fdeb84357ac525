"""The four engine interfaces of the local server: VAD, speech-to-text, LLM and text-to-speech.

Each interface is small (a method or two plus ``aclose``) so that three kinds of implementation fit behind
it: real offline models (``engines/local``), HTTP backends, and deterministic test engines. An engine holds
what is shared and expensive (a model) and is made once per process; per-session state lives in a *stream*
made from it (``VADEngine.create_stream``, ``STTEngine.create_stream``).

Audio contract:
    Audio crosses every interface as PCM16 (signed 16-bit little-endian), mono, as ``bytes``, at the rate
    the engine declares in its ``sample_rate`` (or its stream's). **The caller resamples**: the session
    turns the protocol's 24 kHz into the engine's rate (one resampler can feed both VAD and STT when they
    share a rate, which they usually do: 16 kHz) and turns TTS output into 24 kHz.
    ``voxpipe.audio.StreamResampler`` (also ``voxpipe.server.engines.audio.PCMResampler``) does this
    incrementally. Engines never guess the input rate.

The values that cross these interfaces (``VADConfig``, ``LLMRequest``, ``Transcript`` ...) are in
``voxpipe.server.engines.types`` and re-exported here.

Errors raised here (their roots are in ``voxpipe.errors``)::

    VoxpipeUsageError
    └── EngineUnavailableError   -- no engine set of that name, or its packages are not installed
    VoxpipeWorldError
    └── EngineError              -- a model failed at run time (bad model file, inference error)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Self

from voxpipe.errors import VoxpipeUsageError, VoxpipeWorldError
from voxpipe.server.engines.types import (
    PROTOCOL_VOICES,
    FunctionCall,
    FunctionCallOutput,
    FunctionTool,
    LLMCapabilities,
    LLMChunk,
    LLMItem,
    LLMMessage,
    LLMRequest,
    STTCapabilities,
    TextDelta,
    ToolCall,
    ToolChoice,
    Transcript,
    TranscriptionOptions,
    TTSCapabilities,
    Usage,
    VADConfig,
    VADEvent,
    VADEventType,
)

__all__ = [
    "PROTOCOL_VOICES",
    "AsyncCloseable",
    "Engine",
    "EngineError",
    "EngineUnavailableError",
    "FunctionCall",
    "FunctionCallOutput",
    "FunctionTool",
    "LLMCapabilities",
    "LLMChunk",
    "LLMEngine",
    "LLMItem",
    "LLMMessage",
    "LLMRequest",
    "STTCapabilities",
    "STTEngine",
    "STTStream",
    "TTSCapabilities",
    "TTSEngine",
    "TextDelta",
    "ToolCall",
    "ToolChoice",
    "Transcript",
    "TranscriptionOptions",
    "Usage",
    "VADConfig",
    "VADEngine",
    "VADEvent",
    "VADEventType",
    "VADStream",
]


class EngineUnavailableError(VoxpipeUsageError):
    """An engine set cannot be loaded: the name is unknown, or a package it needs is not installed.

    The message lists the known names, or names the missing package and the extra that installs it
    (``pip install 'voxpipe[local]'``). It is a configuration problem: choose another engine set or install.
    """


class EngineError(VoxpipeWorldError):
    """A model failed while loading or running (a corrupt model file, an inference library error).

    ``recoverable`` says whether the session can go on (one failed response) or the engine is unusable.
    """


class AsyncCloseable:
    """Something that holds resources until ``aclose``; usable as ``async with``."""

    async def aclose(self) -> None:
        """Release what this object holds. Safe to call twice; after it the object must not be used."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class Engine(AsyncCloseable):
    """What every engine has: lazy loading that the server can force at start, and ``aclose``."""

    async def warm_up(self) -> None:
        """Load the model now instead of on first use, so the first session does not wait for it."""


class VADStream(AsyncCloseable, ABC):
    """Per-session VAD state over one engine's model. Cheap: call it from the event loop.

    ``process`` must cost well under 1 ms per 20 ms of audio; an engine whose model is slower runs it
    elsewhere and reports later. ``aclose`` gives pooled model state back to the engine.
    """

    #: The PCM16 rate ``process`` expects.
    sample_rate: int

    @abstractmethod
    def process(self, pcm16: bytes) -> list[VADEvent]:
        """Feed audio of any length (whole samples) and return the events it completed, in order."""

    @abstractmethod
    def reset(self) -> None:
        """Forget speech state and restart the audio clock at 0 (after a buffer commit or clear)."""

    @property
    def trailing_silence_ms(self) -> int | None:
        """Silence since the last speech frame while a speech segment is open (0 while speech goes on
        or no segment is open); None if the engine cannot tell.

        The session speculates on an answer once this passes a short pause, well before
        ``silence_duration_ms`` ends the segment (``server/connection/speculation.py``).
        """
        return None


class VADEngine(Engine, ABC):
    """Holds a VAD model shared by the sessions of a process."""

    #: The PCM16 rate its streams expect.
    sample_rate: int

    @abstractmethod
    def create_stream(self, config: VADConfig) -> VADStream:
        """Make the per-session state for ``config``; cheap, no I/O."""


class STTStream(AsyncCloseable, ABC):
    """Transcribes one utterance while it is being spoken.

    ``feed`` is cheap and never blocks; an engine may work on what it has in the background (owned by the
    stream and awaited in ``finish``/``aclose``) so that ``finish`` has little left to do. Cancelling
    ``finish`` is safe; call ``aclose`` afterwards.
    """

    #: The PCM16 rate ``feed`` expects.
    sample_rate: int

    @abstractmethod
    def feed(self, pcm16: bytes) -> None:
        """Append audio (whole samples). Raises ``VoxpipeStateError`` after ``finish``."""

    async def partial(self) -> str | None:
        """Interim text of what was fed so far, or None if the engine has none (yet)."""
        return None

    async def snapshot(self) -> str | None:
        """The transcript of everything fed so far, as ``finish`` would give it now, without ending the
        stream; None if the engine cannot tell before ``finish``.

        The session calls it at a pause to answer speculatively; when only silence follows, ``finish``
        must return the same text (that is what lets the speculation be used).
        """
        return None

    @abstractmethod
    async def finish(self) -> Transcript:
        """Say the utterance is complete and return its transcript. Call it once."""


class STTEngine(Engine, ABC):
    """Holds a speech-to-text model shared by the sessions of a process."""

    capabilities: STTCapabilities

    @abstractmethod
    def create_stream(self, options: TranscriptionOptions) -> STTStream:
        """Start transcribing one utterance; cheap, no I/O."""

    @abstractmethod
    async def transcribe(self, pcm16: bytes, options: TranscriptionOptions) -> Transcript:
        """Transcribe a complete utterance in one go (at ``capabilities.sample_rate``)."""


class LLMEngine(Engine, ABC):
    """Holds a language model shared by the sessions of a process."""

    capabilities: LLMCapabilities

    @abstractmethod
    def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """Generate a response, chunk by chunk (an async generator).

        Cancelling is safe and fast: closing the generator (``aclose``, or leaving ``async for`` early
        with the generator closed by ``contextlib.aclosing``) or cancelling the task that iterates it
        stops generation within about 50 ms, and the model is free for the next request soon after.
        """

    async def end_of_turn(self, request: LLMRequest, *, answer_next: bool = True) -> float | None:
        """How likely the user's last message in ``request`` is finished (0..1), as the model reads it;
        None if the engine cannot tell (then semantic VAD falls back to punctuation).

        The request is the one a response to the words so far would make, so an engine with a prompt
        cache evaluates little more than the words (and the response that follows reuses them).
        ``answer_next``: that response will be asked for if the turn ends (the session answers turns by
        itself), so an engine may read the rest of its prompt in the same evaluation.
        """
        return None

    async def prefill(self, request: LLMRequest) -> AsyncIterator[int]:
        """Read the prompt a response to ``request`` would have, up to the end of its last message, into
        the engine's prompt cache, without generating anything (an async generator).

        The session calls it while the user is still speaking, with the words heard so far: at the end
        of the turn the answer's prompt then costs only the words that came since. It works in short
        steps and yields after each (the prompt tokens cached so far); closing it stops at the next
        step. Nothing is counted or returned. Engines without a prompt cache do nothing (the default).
        """
        return
        yield


class TTSEngine(Engine, ABC):
    """Holds a text-to-speech model shared by the sessions of a process."""

    capabilities: TTSCapabilities

    @property
    def sample_rate(self) -> int:
        """The PCM16 rate of the audio ``stream`` yields."""
        return self.capabilities.sample_rate

    @abstractmethod
    def stream(self, text: str, voice: str, speed: float = 1.0) -> AsyncIterator[bytes]:
        """Synthesize ``text`` and yield PCM16 chunks as they are made (an async generator).

        ``voice`` is a protocol voice name (unknown names raise ``VoxpipeUsageError``); ``speed`` > 1 is
        faster. Cancelling (closing the generator or cancelling its task) is safe and stops at the next
        sentence boundary at the latest.
        """

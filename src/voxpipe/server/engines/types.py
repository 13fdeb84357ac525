"""The values that cross the engine interfaces: settings, events, requests, chunks and capabilities.

Plain frozen dataclasses with no behaviour beyond validating themselves, so that every engine kind (local
models, HTTP backends, test engines) and the session share one vocabulary. The interfaces that use them
are in ``voxpipe.server.engines.base``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from voxpipe.errors import VoxpipeUsageError

__all__ = [
    "PROTOCOL_VOICES",
    "FunctionCall",
    "FunctionCallOutput",
    "FunctionTool",
    "LLMCapabilities",
    "LLMChunk",
    "LLMItem",
    "LLMMessage",
    "LLMRequest",
    "STTCapabilities",
    "TTSCapabilities",
    "TextDelta",
    "ToolCall",
    "ToolChoice",
    "Transcript",
    "TranscriptionOptions",
    "Usage",
    "VADConfig",
    "VADEvent",
    "VADEventType",
]

#: The voice names the Realtime protocol accepts; every TTS engine maps each of them to a voice it has.
PROTOCOL_VOICES: tuple[str, ...] = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx",
    "nova", "sage", "shimmer", "verse", "marin", "cedar",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class VADConfig:
    """The server-VAD settings of a session (the protocol's ``turn_detection`` of type ``server_vad``).

    Attributes:
        threshold: speech probability (0..1) above which a frame counts as speech. Higher needs louder speech.
        prefix_padding_ms: audio kept before the detected start; the start reported is moved back by this.
        silence_duration_ms: silence needed after speech before the end of speech is reported.
    """

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise VoxpipeUsageError(f"VADConfig.threshold must be within 0..1, got {self.threshold}")
        if self.prefix_padding_ms < 0 or self.silence_duration_ms < 0:
            raise VoxpipeUsageError(
                "VADConfig.prefix_padding_ms and silence_duration_ms must be >= 0, got "
                f"{self.prefix_padding_ms} and {self.silence_duration_ms}"
            )


class VADEventType(enum.Enum):
    """What a VAD event reports."""

    SPEECH_STARTED = "speech_started"
    SPEECH_STOPPED = "speech_stopped"


@dataclass(frozen=True, slots=True)
class VADEvent:
    """Speech started or stopped, located in the audio fed to the stream.

    Attributes:
        type: started or stopped.
        audio_ms: milliseconds since the stream's first sample (or its last ``reset``). For a start, the
            first speech frame minus ``prefix_padding_ms`` (never below 0, never before the previous stop):
            the protocol's ``audio_start_ms``. For a stop, the end of the last speech frame: the
            protocol's ``audio_end_ms``. The stop is *reported* only once ``silence_duration_ms`` of
            silence has followed, so it always arrives that late.
    """

    type: VADEventType
    audio_ms: int


@dataclass(frozen=True, slots=True)
class TranscriptionOptions:
    """The protocol's ``input_audio_transcription`` settings.

    Attributes:
        model: the name the client asked for (``whisper-1``, ``gpt-4o-transcribe`` ...). Engines map it to
            what they have; a local engine has one model and only logs the name.
        language: ISO-639-1 code of the spoken language, or None to let the engine decide.
        prompt: text that steers spelling and vocabulary (names, jargon), as in Whisper's prompt.
    """

    model: str | None = None
    language: str | None = None
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one LLM response or transcription (the protocol's ``usage``).

    ``cached_tokens`` counts input tokens served from a reused prompt prefix (llama.cpp's KV cache).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class Transcript:
    """The final text of one utterance.

    Attributes:
        text: the transcript, stripped; may be empty when nothing was understood.
        language: the language the engine decoded in (ISO-639-1), or None if unknown.
        duration_s: seconds of audio transcribed (the protocol's ``duration`` usage).
        usage: token usage, for engines that count tokens; None otherwise.
    """

    text: str
    language: str | None
    duration_s: float
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class STTCapabilities:
    """What an STT engine can do.

    Attributes:
        sample_rate: the PCM16 rate it takes.
        partials: ``STTStream.partial`` can return interim text while audio arrives.
        languages: the languages it transcribes, or None for "any it detects".
    """

    sample_rate: int
    partials: bool
    languages: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class LLMMessage:
    """A text message of the conversation (the protocol's ``message`` item, flattened to text)."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """An earlier call the assistant made (the protocol's ``function_call`` item)."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class FunctionCallOutput:
    """The result the client sent for a call (the protocol's ``function_call_output`` item)."""

    call_id: str
    output: str


LLMItem = LLMMessage | FunctionCall | FunctionCallOutput


@dataclass(frozen=True, slots=True)
class FunctionTool:
    """A function the model may call; ``parameters`` is a JSON schema for its arguments object."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


#: ``auto``: the model decides; ``none``: never call; ``required``: must call one; a name: must call it.
ToolChoice = Literal["auto", "none", "required"] | str


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """One response to generate.

    Attributes:
        instructions: the system prompt (the session's ``instructions``). Engines keep the rendering of
            instructions and tools byte-identical across turns so a prompt cache can be reused.
        messages: the conversation so far, oldest first.
        tools: functions the model may call; a call to any other name never comes out.
        tool_choice: see ``ToolChoice``. A name that is not in ``tools`` is a ``VoxpipeUsageError``.
        temperature: sampling temperature (0 = greedy).
        max_output_tokens: cap on generated tokens, or None for the engine's limit.
        continuation: the answer's text so far: the model goes on from it (an answer that gave the model
            up to another answer's first words resumes this way; only for engines whose capabilities
            say ``resumable``). The chunks and usage then cover only what follows it.
    """

    instructions: str = ""
    messages: Sequence[LLMItem] = ()
    tools: Sequence[FunctionTool] = ()
    tool_choice: ToolChoice = "auto"
    temperature: float = 0.8
    max_output_tokens: int | None = None
    continuation: str = ""


@dataclass(frozen=True, slots=True)
class TextDelta:
    """Text the model generated since the previous delta."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete call of a declared tool; ``arguments`` is a JSON object that validated."""

    call_id: str
    name: str
    arguments: str


#: What ``LLMEngine.stream`` yields: text deltas and tool calls, then exactly one ``Usage`` last.
LLMChunk = TextDelta | ToolCall | Usage


@dataclass(frozen=True, slots=True)
class LLMCapabilities:
    """What an LLM engine can do.

    Attributes:
        model: the model's name, for logs and the protocol's ``response`` metadata.
        tool_calls: it can produce ``ToolCall`` chunks.
        context_tokens: the context window; requests longer than this lose their oldest messages.
        resumable: it honours ``LLMRequest.continuation``, so a long answer can give the model up between
            tokens and resume later (``voxpipe.server.scheduling``); cheap for a local model, whose
            prompt cache keeps the words already evaluated.
    """

    model: str
    tool_calls: bool
    context_tokens: int
    resumable: bool = False


@dataclass(frozen=True, slots=True)
class TTSCapabilities:
    """What a TTS engine can do.

    Attributes:
        sample_rate: the PCM16 rate of the audio it yields.
        voices: protocol voice name -> the engine's own voice; holds every name in ``PROTOCOL_VOICES``.
        streaming: audio comes out before the whole text is synthesized (sentence by sentence).
    """

    sample_rate: int
    voices: Mapping[str, str]
    streaming: bool

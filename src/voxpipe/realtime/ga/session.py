"""GA session configuration and ``session.*`` events.

GA nests the audio settings: ``audio.input.{format, transcription, noise_reduction, turn_detection}``
and ``audio.output.{format, voice, speed}``; formats are objects (``{"type": "audio/pcm", "rate":
24000}``); ``output_modalities`` is ``["audio"]`` or ``["text"]``; ``max_output_tokens`` replaces
``max_response_output_tokens``. The transcription, noise-reduction and turn-detection objects are
the beta classes (same wire shape).
"""

from typing import Any, ClassVar, Literal

from pydantic import SerializerFunctionWrapHandler, field_serializer

from voxpipe.realtime._base import ClientEventBase, ProtocolModel, ServerEventBase
from voxpipe.realtime.beta.session_config import (
    InputAudioNoiseReduction,
    InputAudioTranscription,
    Modality,
    ToolItem,
    TracingConfiguration,
    TurnDetectionSetting,
)

__all__ = [
    "AudioConfig",
    "AudioFormatSpec",
    "AudioInput",
    "AudioOutput",
    "Session",
    "SessionCreatedEvent",
    "SessionProperties",
    "SessionUpdateEvent",
    "SessionUpdatedEvent",
]


class AudioFormatSpec(ProtocolModel):
    """An audio format object: ``audio/pcm`` (24 kHz PCM16), ``audio/pcmu`` or ``audio/pcma`` (8 kHz)."""

    type: Literal["audio/pcm", "audio/pcmu", "audio/pcma"] | None = None
    """The encoding."""
    rate: int | None = None
    """Sample rate of ``audio/pcm``; servers enforce 24000."""


class AudioInput(ProtocolModel):
    """Input audio settings (``audio.input``)."""

    format: AudioFormatSpec | None = None
    """Format of appended audio."""
    transcription: InputAudioTranscription | None = None
    """Transcription of the user's audio; ``None`` means off."""
    noise_reduction: InputAudioNoiseReduction | None = None
    """Noise reduction; ``None`` means off."""
    turn_detection: TurnDetectionSetting = None
    """Server VAD, semantic VAD, or ``False``/``None`` to disable (sent as ``null``)."""

    @field_serializer("turn_detection", mode="wrap")
    def _serialize_turn_detection(self, value: Any, handler: SerializerFunctionWrapHandler) -> Any:
        """``False`` is written ``null`` (disabled); ``True`` asks for server VAD with server defaults."""
        if value is False:
            return None
        if value is True:
            return {"type": "server_vad"}
        return handler(value)


class AudioOutput(ProtocolModel):
    """Output audio settings (``audio.output``)."""

    format: AudioFormatSpec | None = None
    """Format of ``response.output_audio.delta`` audio."""
    voice: str | dict[str, Any] | None = None
    """A voice name (adds ``marin`` and ``cedar``) or a custom voice ``{"id": "voice_…"}``."""
    speed: float | None = None
    """Speech speed 0.25-1.5."""


class AudioConfig(ProtocolModel):
    """The ``audio`` object of a GA session."""

    input: AudioInput | None = None
    """Input side."""
    output: AudioOutput | None = None
    """Output side."""


class SessionProperties(ProtocolModel):
    """GA session settings for ``session.update``; every field but ``type`` unset by default.

    GA servers require ``type`` in ``session.update``: built in Python it is always sent
    (``"realtime"`` unless given). Parsing does not add it, so a server can check
    ``"type" in session.model_fields_set``.
    """

    _none_means_unset: ClassVar[bool] = True
    _always_send: ClassVar[frozenset[str]] = frozenset({"type"})

    type: Literal["realtime", "transcription"] | None = "realtime"
    """Session kind; required by GA servers in ``session.update``."""
    model: str | None = None
    """Model name."""
    output_modalities: list[Modality] | None = None
    """``["audio"]`` (audio plus transcript) or ``["text"]``; not both."""
    instructions: str | None = None
    """System instructions."""
    audio: AudioConfig | None = None
    """Input and output audio settings."""
    include: list[str] | None = None
    """Extra data, e.g. ``item.input_audio_transcription.logprobs``."""
    tools: list[ToolItem] | None = None
    """Function tools (and MCP tools as dicts)."""
    tool_choice: str | dict[str, Any] | None = None
    """``auto``, ``none``, ``required`` or a function/MCP selector object."""
    max_output_tokens: int | Literal["inf"] | None = None
    """Token limit per response, or ``"inf"``."""
    tracing: Literal["auto"] | TracingConfiguration | None = None
    """``"auto"`` or a tracing configuration."""
    truncation: str | dict[str, Any] | None = None
    """``auto``, ``disabled`` or ``{"type": "retention_ratio", "retention_ratio": …}``."""
    prompt: dict[str, Any] | None = None
    """A stored prompt reference ``{"id", "version", "variables"}``."""


class Session(SessionProperties):
    """A GA session as the server reports it."""

    _none_means_unset: ClassVar[bool] = False

    id: str | None = None
    """Session id, ``sess_…``."""
    object: str | None = None
    """``realtime.session`` or ``realtime.transcription_session``."""
    expires_at: int | None = None
    """Unix time (seconds) at which the session ends."""


class SessionUpdateEvent(ClientEventBase):
    """``session.update`` (GA): change the given fields; ``session.type`` is required."""

    type: Literal["session.update"] = "session.update"
    session: SessionProperties
    """Fields to change."""


class SessionCreatedEvent(ServerEventBase):
    """``session.created`` (GA): first event of a connection."""

    type: Literal["session.created"] = "session.created"
    session: Session
    """The session as created."""


class SessionUpdatedEvent(ServerEventBase):
    """``session.updated`` (GA): the effective configuration after an update."""

    type: Literal["session.updated"] = "session.updated"
    session: Session
    """The session after the update."""

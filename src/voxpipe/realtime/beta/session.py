"""``session.*`` and ``transcription_session.*`` events (beta)."""

from typing import Any, ClassVar, Literal

from voxpipe.realtime._base import ClientEventBase, ProtocolModel, ServerEventBase
from voxpipe.realtime.beta.session_config import (
    AudioFormat,
    InputAudioNoiseReduction,
    InputAudioTranscription,
    Modality,
    Session,
    SessionProperties,
    TurnDetectionSetting,
)

__all__ = [
    "SessionCreatedEvent",
    "SessionUpdateEvent",
    "SessionUpdatedEvent",
    "TranscriptionSession",
    "TranscriptionSessionProperties",
    "TranscriptionSessionUpdateEvent",
    "TranscriptionSessionUpdatedEvent",
]


class SessionUpdateEvent(ClientEventBase):
    """``session.update``: change the given session fields; answered by ``session.updated``."""

    type: Literal["session.update"] = "session.update"
    session: SessionProperties
    """Fields to change; unset fields keep their value on the server."""


class SessionCreatedEvent(ServerEventBase):
    """``session.created``: first event on every connection, with the default configuration."""

    type: Literal["session.created"] = "session.created"
    session: Session
    """The session as created."""


class SessionUpdatedEvent(ServerEventBase):
    """``session.updated``: the full effective configuration after a ``session.update``."""

    type: Literal["session.updated"] = "session.updated"
    session: Session
    """The session after the update."""


class TranscriptionSessionProperties(ProtocolModel):
    """Settings of a transcription-only session (``transcription_session.update``)."""

    _none_means_unset: ClassVar[bool] = True

    input_audio_format: AudioFormat | None = None
    """Format of the appended audio."""
    input_audio_transcription: InputAudioTranscription | None = None
    """Transcription model, language and prompt."""
    input_audio_noise_reduction: InputAudioNoiseReduction | None = None
    """Noise reduction before VAD and transcription."""
    turn_detection: TurnDetectionSetting = None
    """VAD settings (``create_response`` / ``interrupt_response`` do not apply here)."""
    include: list[str] | None = None
    """Extra data to include, e.g. ``item.input_audio_transcription.logprobs``."""
    modalities: list[Modality] | None = None
    """Modalities of the session."""
    client_secret: dict[str, Any] | None = None
    """Ephemeral-key settings."""


class TranscriptionSession(ProtocolModel):
    """A transcription session as the server reports it (the SDK types its format as any string)."""

    input_audio_format: str | None = None
    """Format of the appended audio."""
    input_audio_transcription: InputAudioTranscription | None = None
    """Transcription model, language and prompt."""
    input_audio_noise_reduction: InputAudioNoiseReduction | None = None
    """Noise reduction before VAD and transcription."""
    turn_detection: TurnDetectionSetting | dict[str, Any] = None
    """VAD settings (a plain dict when its ``type`` is not a known VAD kind)."""
    include: list[str] | None = None
    """Extra data included."""
    modalities: list[Modality] | None = None
    """Modalities of the session."""
    client_secret: dict[str, Any] | None = None
    """Ephemeral key ``{"value", "expires_at"}`` (required by the SDK; optional here)."""

    id: str | None = None
    """Session id."""
    object: str | None = None
    """``realtime.transcription_session``."""
    expires_at: int | None = None
    """Unix time (seconds) at which the session ends."""


class TranscriptionSessionUpdateEvent(ClientEventBase):
    """``transcription_session.update``: configure a transcription-only session."""

    type: Literal["transcription_session.update"] = "transcription_session.update"
    session: TranscriptionSessionProperties
    """Fields to change."""


class TranscriptionSessionUpdatedEvent(ServerEventBase):
    """``transcription_session.updated``: answer to ``transcription_session.update``."""

    type: Literal["transcription_session.updated"] = "transcription_session.updated"
    session: TranscriptionSession
    """The session after the update."""

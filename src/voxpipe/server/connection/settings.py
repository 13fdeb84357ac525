"""The effective settings of a session or one response, independent of the protocol shape.

The wire session (beta flat fields, GA nested ``audio``) is kept as the client sees it by
``voxpipe.server.connection.session_update``; what the engines and the session need is derived from it
into these frozen values, once per ``session.update`` and once per ``response.create``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from voxpipe.realtime.dialect import audio_encoding, encoding_of_ga_format
from voxpipe.server.connection.conversation import Item
from voxpipe.server.engines.types import FunctionTool, TranscriptionOptions

__all__ = [
    "AudioCodec",
    "ItemReference",
    "ResponseRequest",
    "SessionSettings",
    "TurnDetectionKind",
    "TurnDetectionSettings",
]


class AudioCodec(enum.Enum):
    """Audio encodings of the protocol; the value is the beta name."""

    PCM16 = "pcm16"
    ULAW = "g711_ulaw"
    ALAW = "g711_alaw"

    @property
    def sample_rate(self) -> int:
        """24 kHz for PCM16, 8 kHz for G.711."""
        return audio_encoding(self.value).sample_rate

    @property
    def bytes_per_sample(self) -> int:
        """2 for PCM16, 1 for G.711."""
        return audio_encoding(self.value).bytes_per_sample

    @classmethod
    def of_ga_format(cls, spec: Any) -> AudioCodec | None:
        """The codec a GA format object (``{"type": "audio/pcmu"}``) names; None when it names none."""
        encoding = encoding_of_ga_format(spec)
        return cls(encoding.name) if encoding is not None else None


class TurnDetectionKind(enum.Enum):
    """The protocol's ``turn_detection.type``."""

    SERVER_VAD = "server_vad"
    SEMANTIC_VAD = "semantic_vad"


@dataclass(frozen=True, slots=True)
class TurnDetectionSettings:
    """Turn detection as configured (defaults: what OpenAI reports in ``session.created``)."""

    kind: TurnDetectionKind = TurnDetectionKind.SERVER_VAD
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 200
    eagerness: str = "auto"
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = None


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """What the session runs with.

    Attributes:
        audio_output: responses speak (beta ``modalities`` holds ``audio``; GA ``output_modalities`` is
            ``["audio"]``); otherwise they answer in text.
        tool_choice: ``auto``, ``none``, ``required`` or a function name.
        max_output_tokens: None for ``"inf"``.
    """

    model: str
    instructions: str
    audio_output: bool = True
    voice: str = "alloy"
    speed: float = 1.0
    input_codec: AudioCodec = AudioCodec.PCM16
    output_codec: AudioCodec = AudioCodec.PCM16
    transcription: TranscriptionOptions | None = None
    turn_detection: TurnDetectionSettings | None = field(default_factory=TurnDetectionSettings)
    tools: tuple[FunctionTool, ...] = ()
    tool_choice: str = "auto"
    temperature: float = 0.8
    max_output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ItemReference:
    """A ``response.input`` entry of type ``item_reference``: a conversation item, by id."""

    id: str


@dataclass(frozen=True, slots=True)
class ResponseRequest:
    """One ``response.create`` (or a turn-detection response) after applying its overrides.

    Attributes:
        settings: the session's settings with this response's overrides.
        out_of_band: ``conversation: "none"``: nothing is written to the conversation.
        metadata: the client's metadata, echoed in the response object.
        input_items: ``response.input`` (items, or references to conversation items), replacing the
            conversation as context; None uses the conversation.
    """

    settings: SessionSettings
    out_of_band: bool = False
    metadata: Mapping[str, str] | None = None
    input_items: list[Item | ItemReference] | None = None

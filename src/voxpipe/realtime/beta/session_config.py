"""Session configuration of the beta protocol: what ``session.update`` sends and ``session.*`` echoes.

Defaults follow pipecat's documented ``SessionProperties``: every session field defaults to ``None``
and is then not sent at all (the server keeps its own value). The turn-detection objects carry
pipecat's documented defaults and send them, because a server reading a partial object would fill
in *its* defaults (``silence_duration_ms`` 200 on OpenAI, not pipecat's 800).
"""

from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import AfterValidator, Field, PlainValidator, SerializerFunctionWrapHandler, field_serializer

from voxpipe.errors import VoxpipeUsageError
from voxpipe.realtime._base import ProtocolModel

__all__ = [
    "AudioFormat",
    "FunctionTool",
    "InputAudioNoiseReduction",
    "InputAudioTranscription",
    "Modality",
    "SemanticTurnDetection",
    "Session",
    "SessionProperties",
    "ToolChoice",
    "ToolItem",
    "ToolsObject",
    "TracingConfiguration",
    "TurnDetection",
    "TurnDetectionSetting",
]

AudioFormat = Literal["pcm16", "g711_ulaw", "g711_alaw"]
"""Beta audio formats: PCM16 mono 24 kHz little-endian, or G.711 μ-law / A-law at 8 kHz."""

Modality = Literal["text", "audio"]

ToolChoice = Literal["auto", "none", "required"]
"""How the model may call functions, as documented for ``SessionProperties.tool_choice``."""
TOOL_CHOICES: frozenset[str] = frozenset(get_args(ToolChoice))


class InputAudioTranscription(ProtocolModel):
    """Asynchronous transcription of the user's audio (not what the model itself "heard")."""

    _always_send: ClassVar[frozenset[str]] = frozenset({"model"})

    model: str | None = "gpt-4o-transcribe"
    """Transcription model: ``whisper-1``, ``gpt-4o-transcribe`` or ``gpt-4o-mini-transcribe``."""
    language: str | None = None
    """ISO-639-1 language of the input (e.g. ``"en"``); improves accuracy and latency."""
    prompt: str | None = None
    """Text to guide the transcription model (keywords for the gpt-4o models, style for whisper)."""


class InputAudioNoiseReduction(ProtocolModel):
    """Noise reduction applied before VAD and the model."""

    type: Literal["near_field", "far_field"] | None = None
    """``near_field`` for headsets, ``far_field`` for laptop or conference-room microphones."""


class TurnDetection(ProtocolModel):
    """Server-side voice activity detection (``server_vad``): turns end after a silence.

    ``type``, ``threshold``, ``prefix_padding_ms`` and ``silence_duration_ms`` are always sent, with
    pipecat's defaults when not given.
    """

    _always_send: ClassVar[frozenset[str]] = frozenset(
        {"type", "threshold", "prefix_padding_ms", "silence_duration_ms"}
    )

    type: Literal["server_vad"] = "server_vad"
    """Always ``server_vad`` for this class."""
    threshold: float | None = 0.5
    """Activation threshold 0.0-1.0; higher needs louder speech."""
    prefix_padding_ms: int | None = 300
    """Audio kept before the detected start of speech, in ms."""
    silence_duration_ms: int | None = 800
    """Silence that ends a turn, in ms."""
    create_response: bool | None = None
    """Start a response automatically when a turn ends (server default ``True``)."""
    interrupt_response: bool | None = None
    """Cancel the running response when the user starts speaking (server default ``True``)."""
    idle_timeout_ms: int | None = None
    """GA (echoed by beta servers on ``gpt-realtime``): prompt the user after this much silence."""


class SemanticTurnDetection(ProtocolModel):
    """Semantic VAD: a model judges from the words whether the user has finished."""

    _always_send: ClassVar[frozenset[str]] = frozenset(
        {"type", "eagerness", "create_response", "interrupt_response"}
    )

    type: Literal["semantic_vad"] = "semantic_vad"
    """Always ``semantic_vad`` for this class."""
    eagerness: Literal["low", "medium", "high", "auto"] | None = "auto"
    """How soon to end the turn; ``auto`` is ``medium``."""
    create_response: bool | None = True
    """Start a response automatically when a turn ends."""
    interrupt_response: bool | None = True
    """Cancel the running response when the user starts speaking."""


TurnDetectionSetting = TurnDetection | SemanticTurnDetection | bool | None
"""``False`` (or ``None`` from a server) disables turn detection: it goes on the wire as ``null``.
``True`` asks for server VAD with the server's own defaults (``{"type": "server_vad"}``)."""


class FunctionTool(ProtocolModel):
    """A function the model may call. Plain dicts of the same shape are accepted wherever tools are."""

    _always_send: ClassVar[frozenset[str]] = frozenset({"type"})

    type: Literal["function"] = "function"
    """Always ``function`` in beta."""
    name: str | None = None
    """Function name the model uses in ``function_call`` items."""
    description: str | None = None
    """When and how to call the function; the model reads it."""
    parameters: dict[str, Any] | None = None
    """JSON Schema of the arguments object."""


def _check_tool_dict(value: dict[str, Any]) -> dict[str, Any]:
    """Check a function tool given as a dict against :class:`FunctionTool`, and keep the dict as given."""
    if value.get("type", "function") == "function":
        FunctionTool.model_validate(value)
    return value


ToolItem = Annotated[
    Annotated[dict[str, Any], AfterValidator(_check_tool_dict)] | FunctionTool,
    Field(union_mode="left_to_right"),
]
"""A tool: a plain dict stays the dict given (checked like a :class:`FunctionTool` when it is a
function); a :class:`FunctionTool` stays a model; other tool types (GA ``mcp``) pass as dicts."""


def _tools_object(value: Any) -> Any:
    """Accept a non-JSON object (a ``ToolsSchema``) as ``tools``; reject JSON values that are not lists.

    This keeps ``tools="x"`` or ``tools={...}`` errors (the local server answers them) while letting
    the pipeline service receive its own schema object and convert it before sending.
    """
    if value is None or isinstance(value, str | bytes | int | float | dict | list | tuple):
        raise ValueError("tools must be a list of tool objects")
    return value


ToolsObject = Annotated[Any, PlainValidator(_tools_object)]
"""An application object standing for a tool list (e.g. a ``ToolsSchema``); converted by the service."""


class TracingConfiguration(ProtocolModel):
    """Tracing settings shown in the OpenAI traces dashboard."""

    workflow_name: str | None = None
    """Name of the workflow in the traces dashboard."""
    group_id: str | None = None
    """Group id used to filter traces."""
    metadata: dict[str, Any] | None = None
    """Arbitrary metadata attached to the trace."""


class SessionProperties(ProtocolModel):
    """Session settings a client sends in ``session.update``; every field defaults to unset.

    Only the fields given are sent, and only those change on the server. Built in Python, a field
    given as ``None`` counts as not given (pipecat semantics); ``turn_detection=False`` is the way to
    send ``null`` and disable turn detection. ``tools`` takes a list of
    :class:`FunctionTool` or plain dicts; anything else (such as a ``ToolsSchema``) is stored as given
    for the service to convert before sending.
    """

    _none_means_unset: ClassVar[bool] = True

    modalities: list[Modality] | None = None
    """Output modalities; ``["text"]`` disables audio output. Server default ``["audio", "text"]``."""
    instructions: str | None = None
    """System instructions for the model; an empty string clears them."""
    voice: str | None = None
    """Output voice (``alloy``, ``ash``, ``ballad``, ``coral``, ``echo``, ``sage``, ``shimmer``, ``verse``);
    fixed once the model has spoken."""
    input_audio_format: AudioFormat | None = None
    """Format of ``input_audio_buffer.append`` audio."""
    output_audio_format: AudioFormat | None = None
    """Format of ``response.audio.delta`` audio."""
    input_audio_transcription: InputAudioTranscription | None = None
    """Transcription of the user's audio; ``None`` from a server means off."""
    input_audio_noise_reduction: InputAudioNoiseReduction | None = None
    """Noise reduction of the user's audio; ``None`` from a server means off."""
    turn_detection: TurnDetectionSetting = None
    """Server VAD, semantic VAD, or ``False`` to disable (sent as ``null``: the client commits turns)."""
    tools: list[ToolItem] | ToolsObject | None = None
    """Functions the model may call (an empty list clears them), or an object such as a
    ``ToolsSchema`` that the service converts before sending."""
    tool_choice: ToolChoice | str | dict[str, Any] | None = None
    """``auto``, ``none`` or ``required`` (:data:`ToolChoice`). Built in Python, any other value raises
    ``VoxpipeUsageError`` (a ``ValueError``); read from the wire, a function name or a selector object
    is kept as sent (servers take them, and this server honours them)."""
    temperature: float | None = None
    """Sampling temperature, 0.6-1.2 in beta (0.8 recommended for audio)."""
    max_response_output_tokens: int | Literal["inf"] | None = None
    """Token limit per response (1-4096) or ``"inf"``."""
    speed: float | None = None
    """Speech speed 0.25-1.5 (SDK ≥ 1.84); change it only between responses."""
    tracing: Literal["auto"] | TracingConfiguration | None = None
    """``"auto"`` or a tracing configuration; cannot change once enabled."""
    model: str | None = None
    """Model name; OpenAI takes it from the URL and ignores it here."""
    client_secret: dict[str, Any] | None = None
    """Ephemeral-key settings: ``{"expires_after": {"anchor": "created_at", "seconds": …}}`` in an update."""
    include: list[str] | None = None
    """Extra data to include, e.g. ``item.input_audio_transcription.logprobs``."""

    def __init__(self, /, **data: Any) -> None:
        choice = data.get("tool_choice")
        valid = choice is None or (isinstance(choice, str) and choice in TOOL_CHOICES)
        if self._python_checks_tool_choice and not valid:
            raise VoxpipeUsageError(
                f"SessionProperties.tool_choice must be one of 'auto', 'none', 'required', got {choice!r}"
            )
        super().__init__(**data)

    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    _python_checks_tool_choice: ClassVar[bool] = True

    @field_serializer("turn_detection", mode="wrap")
    def _serialize_turn_detection(self, value: Any, handler: SerializerFunctionWrapHandler) -> Any:
        """``False`` means "disabled", which the wire spells ``null``; ``True`` means server defaults."""
        if value is False:
            return None
        if value is True:
            return {"type": "server_vad"}
        return handler(value)


class Session(SessionProperties):
    """The effective session a server reports in ``session.created`` / ``session.updated``."""

    _none_means_unset: ClassVar[bool] = False
    _python_checks_tool_choice: ClassVar[bool] = False

    id: str | None = None
    """Session id, ``sess_…``."""
    object: Literal["realtime.session"] | None = None
    """Always ``realtime.session``."""
    expires_at: int | None = None
    """Unix time (seconds) at which the server ends the session."""
    truncation: Any = None
    """Echoed by beta-shaped sessions on ``gpt-realtime``: ``"auto"``, ``"disabled"`` or a retention ratio."""
    prompt: Any = None
    """Echoed by beta-shaped sessions on ``gpt-realtime``: a stored prompt reference, or ``None``."""

"""The session of one connection: its defaults, ``session.update`` merged into it, and what it means.

The session is kept as the dialect's protocol model (``session.updated`` echoes it), merged from each
validated ``session.update`` model: only the given top-level fields change (GA merges ``audio.input``
and ``audio.output`` field by field), and a ``turn_detection`` object is completed with the server's
defaults. ``SessionSettings`` are read from it once per accepted update, through the dialect's flat
view, so one path serves beta and GA and checks only what the models cannot say (ranges, known voices,
declared tools). An update that fails is discarded whole (as OpenAI does with
``integer_below_min_value``).
"""

from __future__ import annotations

from typing import Any

from voxpipe.realtime import ProtocolModel
from voxpipe.realtime.dialect import Dialect, audio_encoding
from voxpipe.server.connection.errors import ProtocolError
from voxpipe.server.connection.settings import (
    AudioCodec,
    SessionSettings,
    TurnDetectionKind,
    TurnDetectionSettings,
)
from voxpipe.server.engines.types import PROTOCOL_VOICES, FunctionTool, TranscriptionOptions

__all__ = [
    "apply_update",
    "check_max_tokens",
    "check_single_modality",
    "check_voice",
    "default_session",
    "derive_settings",
    "parse_tools",
    "tool_choice_name",
]

_SERVER_VAD = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
_SEMANTIC_VAD = {
    "type": "semantic_vad",
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}
_IGNORED = frozenset({"model", "client_secret", "id", "object", "expires_at"})
"""Session fields a client may send but not change."""


def default_session(
    dialect: Dialect, *, session_id: str, model: str, expires_at: int, instructions: str
) -> ProtocolModel:
    """The session a new connection starts with (``session.created``), as OpenAI reports it."""
    if not dialect.is_ga:
        return dialect.session_model(
            id=session_id,
            object="realtime.session",
            model=model,
            expires_at=expires_at,
            modalities=["audio", "text"],
            instructions=instructions,
            voice="alloy",
            input_audio_format="pcm16",
            output_audio_format="pcm16",
            input_audio_transcription=None,
            input_audio_noise_reduction=None,
            turn_detection=dict(_SERVER_VAD),
            tools=[],
            tool_choice="auto",
            temperature=0.8,
            max_response_output_tokens="inf",
            speed=1.0,
            tracing=None,
            client_secret=None,
            include=None,
        )
    return dialect.session_model(
        type="realtime",
        object="realtime.session",
        id=session_id,
        model=model,
        output_modalities=["audio"],
        instructions=instructions,
        tools=[],
        tool_choice="auto",
        max_output_tokens="inf",
        tracing=None,
        truncation="auto",
        prompt=None,
        expires_at=expires_at,
        audio={
            "input": {
                "format": audio_encoding("pcm16").ga_format(),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(_SERVER_VAD),
            },
            "output": {"format": audio_encoding("pcm16").ga_format(), "voice": "alloy", "speed": 1.0},
        },
        include=None,
    )


def _set_fields(model: ProtocolModel) -> dict[str, Any]:
    return {name: getattr(model, name) for name in model.model_fields_set}


def _fill_turn_detection(value: Any) -> Any:
    """Complete a partial ``turn_detection`` with the server defaults of its type (``True``: defaults)."""
    if value is False or value is None:
        return None
    if value is True:
        return dict(_SERVER_VAD)
    given = _set_fields(value) if isinstance(value, ProtocolModel) else dict(value)
    defaults = _SEMANTIC_VAD if given.get("type") == "semantic_vad" else _SERVER_VAD
    return {**defaults, **given}


def apply_update(
    dialect: Dialect, current: ProtocolModel, update: ProtocolModel
) -> tuple[ProtocolModel, SessionSettings]:
    """Merge a validated ``session.update`` into the session; return the new session and its settings.

    Raises:
        ProtocolError: a value is out of range or unusable; ``current`` is left unchanged.
    """
    fields = _set_fields(current)
    given = update.model_fields_set
    if dialect.is_ga:
        kind = getattr(update, "type", None) if "type" in given else None
        if kind is None:
            raise ProtocolError(
                "Missing required parameter: 'session.type'.",
                code="missing_required_parameter",
                param="session.type",
            )
        if kind != getattr(current, "type", None):
            raise ProtocolError(
                f"Invalid value: '{kind}'. This server runs 'realtime' sessions only.",
                code="invalid_value",
                param="session.type",
            )
    for name in given - _IGNORED:
        value = getattr(update, name)
        if name == "turn_detection":
            value = _fill_turn_detection(value)
        elif name == "audio" and value is not None:
            value = _merge_audio(fields.get("audio"), value)
        fields[name] = value
    session = dialect.session_model(**fields)
    return session, derive_settings(dialect, session)


def _merge_audio(current: ProtocolModel | None, update: ProtocolModel) -> dict[str, Any]:
    """GA ``audio``: each side given merges field by field into the current one."""
    merged: dict[str, Any] = _set_fields(current) if current is not None else {}
    for side in ("input", "output"):
        given = getattr(update, side, None) if side in update.model_fields_set else None
        if given is None:
            continue
        base = merged.get(side)
        values = _set_fields(base) if isinstance(base, ProtocolModel) else dict(base or {})
        for name in given.model_fields_set:
            value = getattr(given, name)
            values[name] = _fill_turn_detection(value) if name == "turn_detection" else value
        merged[side] = values
    return merged


def derive_settings(dialect: Dialect, session: ProtocolModel) -> SessionSettings:
    """Read a session (of either dialect) into ``SessionSettings``.

    Raises:
        ProtocolError: a value is out of range or not supported here.
    """
    if dialect.is_ga:
        check_single_modality(getattr(session, "output_modalities", None), "session.output_modalities")
        _check_ga_rates(session)
    flat = dialect.flat_fields(session)
    param = dialect.session_param
    modalities = flat.get("modalities") or ["audio", "text"]
    temperature = flat.get("temperature")
    if temperature is not None:
        _check_range(temperature, 0.6, 1.2, param("temperature"))
    speed = flat.get("speed")
    tools = parse_tools(flat.get("tools") or [], "session.tools")
    return SessionSettings(
        model=str(flat.get("model") or ""),
        instructions=flat.get("instructions") or "",
        audio_output="audio" in modalities,
        voice=check_voice(flat.get("voice"), param("voice")),
        speed=_check_range(1.0 if speed is None else speed, 0.25, 1.5, param("speed")),
        input_codec=AudioCodec(flat.get("input_audio_format") or "pcm16"),
        output_codec=AudioCodec(flat.get("output_audio_format") or "pcm16"),
        transcription=_transcription(flat.get("input_audio_transcription")),
        turn_detection=_turn_detection(
            flat.get("turn_detection"), param("turn_detection"), idle_timeout=dialect.is_ga
        ),
        tools=tools,
        tool_choice=tool_choice_name(flat.get("tool_choice"), tools, "session.tool_choice"),
        temperature=float(temperature if temperature is not None else 0.8),
        max_output_tokens=check_max_tokens(
            flat.get("max_response_output_tokens", "inf"), param("max_response_output_tokens")
        ),
    )


def check_single_modality(modalities: list[str] | None, param: str) -> None:
    """GA output modalities are ``["audio"]`` or ``["text"]``, never both.

    Raises:
        ProtocolError: both (or none) were given.
    """
    if modalities is not None and len(modalities) != 1:
        raise ProtocolError(
            "Invalid value: output_modalities must be ['audio'] or ['text'], not both.",
            code="invalid_value",
            param=param,
        )


def _check_ga_rates(session: ProtocolModel) -> None:
    """A GA PCM format may name its rate: it must be the protocol's 24 kHz."""
    audio = getattr(session, "audio", None)
    for side in ("input", "output"):
        spec = getattr(getattr(audio, side, None), "format", None)
        rate = getattr(spec, "rate", None)
        if rate is not None and AudioCodec.of_ga_format(spec) in (AudioCodec.PCM16, None):
            _check_int_range(rate, 24000, 24000, f"session.audio.{side}.format.rate")


def _check_range(value: Any, low: float, high: float, param: str) -> float:
    if value < low:
        raise ProtocolError(
            f"Invalid '{param}': decimal below minimum value. Expected a value >= {low}, "
            f"but got {value} instead.",
            code="decimal_below_min_value",
            param=param,
        )
    if value > high:
        raise ProtocolError(
            f"Invalid '{param}': decimal above maximum value. Expected a value <= {high}, "
            f"but got {value} instead.",
            code="decimal_above_max_value",
            param=param,
        )
    return float(value)


def _check_int_range(value: int, low: int, high: int, param: str) -> int:
    if value < low:
        raise ProtocolError(
            f"Invalid '{param}': integer below minimum value. Expected a value >= {low}, "
            f"but got {value} instead.",
            code="integer_below_min_value",
            param=param,
        )
    if value > high:
        raise ProtocolError(
            f"Invalid '{param}': integer above maximum value. Expected a value <= {high}, "
            f"but got {value} instead.",
            code="integer_above_max_value",
            param=param,
        )
    return value


def check_max_tokens(value: Any, param: str) -> int | None:
    """``"inf"`` (None) or an int within 1..4096."""
    if value is None or value == "inf":
        return None
    return _check_int_range(int(value), 1, 4096, param)


def check_voice(voice: Any, param: str) -> str:
    """A protocol voice name (custom GA voices are not available here)."""
    if voice is None:
        return "alloy"
    if not isinstance(voice, str) or voice not in PROTOCOL_VOICES:
        raise ProtocolError(
            f"Invalid value: {str(voice)[:64]!r}. Supported values are: {', '.join(PROTOCOL_VOICES)}.",
            code="invalid_value",
            param=param,
        )
    return voice


def _transcription(value: Any) -> TranscriptionOptions | None:
    if value is None:
        return None
    return TranscriptionOptions(
        model=getattr(value, "model", None),
        language=getattr(value, "language", None),
        prompt=getattr(value, "prompt", None),
    )


def _turn_detection(value: Any, param: str, *, idle_timeout: bool) -> TurnDetectionSettings | None:
    """Read a ``turn_detection`` model; ``idle_timeout_ms`` only acts in GA, whose protocol has
    ``input_audio_buffer.timeout_triggered`` (beta servers echo the field but the beta event set lacks it).
    """
    if not isinstance(value, ProtocolModel):
        return None
    given = _set_fields(value)
    kind = TurnDetectionKind(given.get("type") or "server_vad")
    threshold = given.get("threshold")
    threshold = _check_range(0.5 if threshold is None else threshold, 0.0, 1.0, f"{param}.threshold")
    prefix = _check_int_range(
        int(given.get("prefix_padding_ms") or 0), 0, 10_000, f"{param}.prefix_padding_ms"
    )
    silence = _check_int_range(
        int(given.get("silence_duration_ms") or 0), 0, 10_000, f"{param}.silence_duration_ms"
    )
    idle = given.get("idle_timeout_ms")
    if idle is not None:
        _check_int_range(int(idle), 5000, 30000, f"{param}.idle_timeout_ms")
    return TurnDetectionSettings(
        kind=kind,
        threshold=threshold,
        prefix_padding_ms=prefix if "prefix_padding_ms" in given else 300,
        silence_duration_ms=silence if "silence_duration_ms" in given else 200,
        eagerness=given.get("eagerness") or "auto",
        create_response=given.get("create_response") is not False,
        interrupt_response=given.get("interrupt_response") is not False,
        idle_timeout_ms=idle if idle_timeout else None,
    )


def parse_tools(tools: Any, param: str) -> tuple[FunctionTool, ...]:
    """Wire tool dicts -> ``FunctionTool``s (function tools only)."""
    result = []
    for index, given in enumerate(tools):
        tool = given.to_dict() if isinstance(given, ProtocolModel) else given
        if not isinstance(tool, dict):
            raise ProtocolError(
                f"Invalid type for '{param}[{index}]'.", code="invalid_type", param=f"{param}[{index}]"
            )
        if tool.get("type", "function") != "function":
            raise ProtocolError(
                f"Invalid value: {str(tool.get('type'))[:64]!r}. Only 'function' tools are supported here.",
                code="invalid_value",
                param=f"{param}[{index}].type",
            )
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise ProtocolError(
                f"Missing required parameter: '{param}[{index}].name'.",
                code="missing_required_parameter",
                param=f"{param}[{index}].name",
            )
        parameters = tool.get("parameters")
        result.append(
            FunctionTool(
                name=name,
                description=str(tool.get("description") or ""),
                parameters=parameters
                if isinstance(parameters, dict)
                else {"type": "object", "properties": {}},
            )
        )
    return tuple(result)


def tool_choice_name(choice: Any, tools: tuple[FunctionTool, ...], param: str) -> str:
    """``auto``/``none``/``required``, or the name of a declared tool (selector objects accepted)."""
    if choice is None:
        return "auto"
    if isinstance(choice, dict):
        inner = choice.get("function")
        choice = inner.get("name") if isinstance(inner, dict) else choice.get("name")
    if choice in ("auto", "none", "required"):
        return str(choice)
    if isinstance(choice, str) and any(tool.name == choice for tool in tools):
        return choice
    raise ProtocolError(
        f"Invalid value: {str(choice)[:64]!r}. Use 'auto', 'none', 'required' or a declared function.",
        code="invalid_value",
        param=param,
    )

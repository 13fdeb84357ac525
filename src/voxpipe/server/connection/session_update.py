"""The wire session object of each shape: defaults, merging ``session.update``, and what it means.

The session is kept as the wire dict the client sees (so ``session.updated`` echoes exactly what was
set, extra fields included) and turned into ``SessionSettings`` after every accepted update. Merging
follows the protocol: only the given top-level fields change (GA merges ``audio.input`` and
``audio.output`` field by field); a ``turn_detection`` object is completed with the server's defaults;
an update that fails validation is discarded whole (as OpenAI does with ``integer_below_min_value``).
"""

from __future__ import annotations

import copy
from typing import Any

from voxpipe.realtime import Shape
from voxpipe.realtime.dialect import audio_encoding
from voxpipe.server.connection.errors import ProtocolError
from voxpipe.server.connection.settings import (
    AudioCodec,
    SessionSettings,
    TurnDetectionKind,
    TurnDetectionSettings,
)
from voxpipe.server.engines.types import PROTOCOL_VOICES, FunctionTool, TranscriptionOptions

__all__ = ["apply_update", "default_session", "derive_settings", "parse_tools", "tool_choice_name"]

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
_IGNORED_BETA = frozenset({"model", "client_secret", "id", "object", "expires_at"})
_IGNORED_GA = frozenset({"model", "id", "object", "expires_at"})


def default_session(
    shape: Shape, *, session_id: str, model: str, expires_at: int, instructions: str
) -> dict[str, Any]:
    """The session a new connection starts with (``session.created``), as OpenAI reports it."""
    if shape == "beta":
        return {
            "id": session_id,
            "object": "realtime.session",
            "model": model,
            "expires_at": expires_at,
            "modalities": ["audio", "text"],
            "instructions": instructions,
            "voice": "alloy",
            "input_audio_format": "pcm16",
            "output_audio_format": "pcm16",
            "input_audio_transcription": None,
            "input_audio_noise_reduction": None,
            "turn_detection": dict(_SERVER_VAD),
            "tools": [],
            "tool_choice": "auto",
            "temperature": 0.8,
            "max_response_output_tokens": "inf",
            "speed": 1.0,
            "tracing": None,
            "client_secret": None,
            "include": None,
        }
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": instructions,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": expires_at,
        "audio": {
            "input": {
                "format": audio_encoding("pcm16").ga_format(),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(_SERVER_VAD),
            },
            "output": {"format": audio_encoding("pcm16").ga_format(), "voice": "alloy", "speed": 1.0},
        },
        "include": None,
    }


def _fill_turn_detection(value: Any) -> Any:
    """Complete a partial ``turn_detection`` object with the server defaults of its type."""
    if not isinstance(value, dict):
        return None if value is False else ({**_SERVER_VAD} if value is True else value)
    defaults = _SEMANTIC_VAD if value.get("type") == "semantic_vad" else _SERVER_VAD
    return {**defaults, **value}


def apply_update(
    shape: Shape, current: dict[str, Any], update: dict[str, Any]
) -> tuple[dict[str, Any], SessionSettings]:
    """Merge a ``session.update`` into the session; return the new session and its settings.

    Args:
        update: the wire form of the event's ``session`` (only the fields the client sent).

    Raises:
        ProtocolError: a value is out of range or unusable; ``current`` is left unchanged.
    """
    new = copy.deepcopy(current)
    if shape == "beta":
        for key, value in update.items():
            if key in _IGNORED_BETA:
                continue
            new[key] = _fill_turn_detection(value) if key == "turn_detection" else copy.deepcopy(value)
    else:
        kind = update.get("type")
        if kind is None:
            raise ProtocolError(
                "Missing required parameter: 'session.type'.",
                code="missing_required_parameter",
                param="session.type",
            )
        if kind != current.get("type"):
            raise ProtocolError(
                f"Invalid value: '{kind}'. This server runs 'realtime' sessions only.",
                code="invalid_value",
                param="session.type",
            )
        for key, value in update.items():
            if key in _IGNORED_GA:
                continue
            if key == "audio" and isinstance(value, dict):
                _merge_ga_audio(new, value)
            else:
                new[key] = copy.deepcopy(value)
    return new, derive_settings(shape, new)


def _merge_ga_audio(session: dict[str, Any], audio: dict[str, Any]) -> None:
    target = session.setdefault("audio", {})
    for side in ("input", "output"):
        given = audio.get(side)
        if not isinstance(given, dict):
            continue
        merged = target.setdefault(side, {}) or {}
        for key, value in given.items():
            merged[key] = _fill_turn_detection(value) if key == "turn_detection" else copy.deepcopy(value)
        target[side] = merged


def derive_settings(shape: Shape, session: dict[str, Any]) -> SessionSettings:
    """Read a wire session into ``SessionSettings``.

    Raises:
        ProtocolError: a value is out of range or not supported here.
    """
    if shape == "beta":
        modalities = session.get("modalities") or ["audio", "text"]
        audio_output = "audio" in modalities
        voice, voice_param = session.get("voice"), "session.voice"
        speed, speed_param = session.get("speed", 1.0), "session.speed"
        input_codec = AudioCodec(session.get("input_audio_format") or "pcm16")
        output_codec = AudioCodec(session.get("output_audio_format") or "pcm16")
        transcription = session.get("input_audio_transcription")
        turn, turn_param = session.get("turn_detection"), "session.turn_detection"
        temperature = session.get("temperature", 0.8)
        _check_range(temperature, 0.6, 1.2, "session.temperature")
        max_tokens, max_param = (
            session.get("max_response_output_tokens", "inf"),
            "session.max_response_output_tokens",
        )
    else:
        modalities = session.get("output_modalities") or ["audio"]
        if len(modalities) != 1:
            raise ProtocolError(
                "Invalid value: output_modalities must be ['audio'] or ['text'], not both.",
                code="invalid_value",
                param="session.output_modalities",
            )
        audio_output = modalities == ["audio"]
        audio = session.get("audio") or {}
        audio_in, audio_out = audio.get("input") or {}, audio.get("output") or {}
        voice, voice_param = audio_out.get("voice"), "session.audio.output.voice"
        speed, speed_param = audio_out.get("speed", 1.0), "session.audio.output.speed"
        input_codec = _ga_codec(audio_in.get("format"), "session.audio.input.format")
        output_codec = _ga_codec(audio_out.get("format"), "session.audio.output.format")
        transcription = audio_in.get("transcription")
        turn, turn_param = audio_in.get("turn_detection"), "session.audio.input.turn_detection"
        temperature = 0.8
        max_tokens, max_param = session.get("max_output_tokens", "inf"), "session.max_output_tokens"
    tools = parse_tools(session.get("tools") or [], "session.tools")
    return SessionSettings(
        model=str(session.get("model") or ""),
        instructions=session.get("instructions") or "",
        audio_output=audio_output,
        voice=check_voice(voice, voice_param),
        speed=_check_range(1.0 if speed is None else speed, 0.25, 1.5, speed_param),
        input_codec=input_codec,
        output_codec=output_codec,
        transcription=_transcription(transcription),
        turn_detection=_turn_detection(turn, turn_param, idle_timeout=shape == "ga"),
        tools=tools,
        tool_choice=tool_choice_name(session.get("tool_choice"), tools, "session.tool_choice"),
        temperature=float(temperature if temperature is not None else 0.8),
        max_output_tokens=check_max_tokens(max_tokens, max_param),
    )


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


def _ga_codec(spec: Any, param: str) -> AudioCodec:
    if not isinstance(spec, dict):
        return AudioCodec.PCM16
    codec = AudioCodec.of_ga_format(spec) or AudioCodec.PCM16
    rate = spec.get("rate")
    if codec is AudioCodec.PCM16 and rate is not None:
        _check_int_range(rate, 24000, 24000, f"{param}.rate")
    return codec


def _transcription(value: Any) -> TranscriptionOptions | None:
    if not isinstance(value, dict):
        return None
    return TranscriptionOptions(
        model=value.get("model"), language=value.get("language"), prompt=value.get("prompt")
    )


def _turn_detection(value: Any, param: str, *, idle_timeout: bool) -> TurnDetectionSettings | None:
    """Read a ``turn_detection`` object; ``idle_timeout_ms`` only acts in GA, whose protocol has
    ``input_audio_buffer.timeout_triggered`` (beta servers echo the field but the beta event set lacks it).
    """
    if not isinstance(value, dict):
        return None
    kind = TurnDetectionKind(value.get("type") or "server_vad")
    threshold = _check_range(
        value.get("threshold", 0.5) if value.get("threshold") is not None else 0.5,
        0.0,
        1.0,
        f"{param}.threshold",
    )
    prefix = _check_int_range(
        int(value.get("prefix_padding_ms") or 0), 0, 10_000, f"{param}.prefix_padding_ms"
    )
    silence = _check_int_range(
        int(value.get("silence_duration_ms") or 0), 0, 10_000, f"{param}.silence_duration_ms"
    )
    idle = value.get("idle_timeout_ms")
    if idle is not None:
        _check_int_range(int(idle), 5000, 30000, f"{param}.idle_timeout_ms")
    return TurnDetectionSettings(
        kind=kind,
        threshold=threshold,
        prefix_padding_ms=prefix if "prefix_padding_ms" in value else 300,
        silence_duration_ms=silence if "silence_duration_ms" in value else 200,
        eagerness=value.get("eagerness") or "auto",
        create_response=value.get("create_response") is not False,
        interrupt_response=value.get("interrupt_response") is not False,
        idle_timeout_ms=idle if idle_timeout else None,
    )


def parse_tools(tools: Any, param: str) -> tuple[FunctionTool, ...]:
    """Wire tool dicts -> ``FunctionTool``s (function tools only)."""
    result = []
    for index, tool in enumerate(tools):
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

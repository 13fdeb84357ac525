"""Reading ``response.create`` overrides (beta and GA) into a ``ResponseRequest``.

Overrides apply to one response only: ``instructions``, output modalities, voice, output format, tools,
tool choice, temperature (beta), token limit, ``conversation`` (``auto`` or ``none``), ``metadata`` and
``input``. Anything invalid is a ``ProtocolError`` and no response starts.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from voxpipe.realtime import Shape
from voxpipe.server.connection.conversation import item_from_wire
from voxpipe.server.connection.errors import ProtocolError
from voxpipe.server.connection.session_update import (
    check_max_tokens,
    check_voice,
    parse_tools,
    tool_choice_name,
)
from voxpipe.server.connection.settings import AudioCodec, ResponseRequest, SessionSettings

__all__ = ["response_request"]


def response_request(
    shape: Shape, base: SessionSettings, overrides: dict[str, Any] | None
) -> ResponseRequest:
    """Apply the wire ``response`` object of ``response.create`` to the session's settings.

    Raises:
        ProtocolError: an invalid override.
    """
    if not overrides:
        return ResponseRequest(settings=base)
    changes: dict[str, Any] = {}
    if overrides.get("instructions") is not None:
        changes["instructions"] = overrides["instructions"]
    tools = base.tools
    if overrides.get("tools") is not None:
        tools = parse_tools(overrides["tools"], "response.tools")
        changes["tools"] = tools
    if overrides.get("tool_choice") is not None:
        changes["tool_choice"] = tool_choice_name(overrides["tool_choice"], tools, "response.tool_choice")
    elif "tools" in changes and base.tool_choice not in ("auto", "none", "required"):
        changes["tool_choice"] = "auto"
    if shape == "beta":
        if overrides.get("modalities") is not None:
            changes["audio_output"] = "audio" in overrides["modalities"]
        if overrides.get("voice") is not None:
            changes["voice"] = check_voice(overrides["voice"], "response.voice")
        if overrides.get("output_audio_format") is not None:
            changes["output_codec"] = AudioCodec(overrides["output_audio_format"])
        if overrides.get("temperature") is not None:
            changes["temperature"] = float(overrides["temperature"])
        if overrides.get("max_response_output_tokens") is not None:
            changes["max_output_tokens"] = check_max_tokens(
                overrides["max_response_output_tokens"], "response.max_response_output_tokens"
            )
    else:
        modalities = overrides.get("output_modalities")
        if modalities is not None:
            if len(modalities) != 1:
                raise ProtocolError(
                    "Invalid value: output_modalities must be ['audio'] or ['text'], not both.",
                    code="invalid_value",
                    param="response.output_modalities",
                )
            changes["audio_output"] = modalities == ["audio"]
        output = (overrides.get("audio") or {}).get("output") or {}
        if output.get("voice") is not None:
            changes["voice"] = check_voice(output["voice"], "response.audio.output.voice")
        fmt = output.get("format")
        codec = AudioCodec.of_ga_format(fmt)
        if codec is not None:
            changes["output_codec"] = codec
        if overrides.get("max_output_tokens") is not None:
            changes["max_output_tokens"] = check_max_tokens(
                overrides["max_output_tokens"], "response.max_output_tokens"
            )
    conversation = overrides.get("conversation") or "auto"
    if conversation not in ("auto", "none"):
        raise ProtocolError(
            f"Invalid value: {str(conversation)[:64]!r}. Supported values are: 'auto' and 'none'.",
            code="invalid_value",
            param="response.conversation",
        )
    metadata = overrides.get("metadata")
    if metadata is not None:
        _check_metadata(metadata)
    inputs = overrides.get("input")
    for index, wire in enumerate(inputs or []):
        if wire.get("type") != "item_reference":
            item_from_wire(wire, f"response.input[{index}]")  # raises on an item that cannot be used
    return ResponseRequest(
        settings=dataclasses.replace(base, **changes),
        out_of_band=conversation == "none",
        metadata=metadata,
        input_items=list(inputs) if inputs is not None else None,
    )


def _check_metadata(metadata: dict[str, Any]) -> None:
    if len(metadata) > 16:
        raise ProtocolError(
            f"Invalid 'response.metadata': at most 16 pairs, got {len(metadata)}.",
            code="invalid_value",
            param="response.metadata",
        )
    for key, value in metadata.items():
        if len(key) > 64 or not isinstance(value, str) or len(value) > 512:
            raise ProtocolError(
                "Invalid 'response.metadata': keys are at most 64 characters, values strings of at most 512.",
                code="invalid_value",
                param=f"response.metadata.{key[:64]}",
            )

"""Reading the validated ``response`` of ``response.create`` (beta or GA) into a ``ResponseRequest``.

Overrides apply to one response only: ``instructions``, output modalities, voice, output format, tools,
tool choice, temperature (beta), token limit, ``conversation`` (``auto`` or ``none``), ``metadata`` and
``input``. The parser has checked the types; the dialect reads GA's nested fields under their flat names,
so one path applies them, checking only what the models cannot say (ranges, known voices, declared
tools). Anything invalid is a ``ProtocolError`` and no response starts.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from voxpipe.realtime import ProtocolModel
from voxpipe.realtime.dialect import Dialect
from voxpipe.server.connection.conversation import item_from_model
from voxpipe.server.connection.errors import ProtocolError
from voxpipe.server.connection.session_update import (
    check_max_tokens,
    check_single_modality,
    check_voice,
    parse_tools,
    tool_choice_name,
)
from voxpipe.server.connection.settings import AudioCodec, ItemReference, ResponseRequest, SessionSettings

__all__ = ["response_request"]


def response_request(
    dialect: Dialect, base: SessionSettings, response: ProtocolModel | None
) -> ResponseRequest:
    """Apply the ``response`` object of a ``response.create`` to the session's settings.

    Raises:
        ProtocolError: an invalid override.
    """
    if response is None or not response.model_fields_set:
        return ResponseRequest(settings=base)
    if dialect.is_ga:
        check_single_modality(getattr(response, "output_modalities", None), "response.output_modalities")
    given = dialect.flat_fields(response)
    changes: dict[str, Any] = {}
    if given.get("instructions") is not None:
        changes["instructions"] = given["instructions"]
    tools = base.tools
    if given.get("tools") is not None:
        tools = parse_tools(given["tools"], "response.tools")
        changes["tools"] = tools
    if given.get("tool_choice") is not None:
        changes["tool_choice"] = tool_choice_name(given["tool_choice"], tools, "response.tool_choice")
    elif "tools" in changes and base.tool_choice not in ("auto", "none", "required"):
        changes["tool_choice"] = "auto"
    if given.get("modalities") is not None:
        changes["audio_output"] = "audio" in given["modalities"]
    if given.get("voice") is not None:
        changes["voice"] = check_voice(given["voice"], dialect.session_param("voice", "response"))
    if given.get("output_audio_format") is not None:
        changes["output_codec"] = AudioCodec(given["output_audio_format"])
    if given.get("temperature") is not None:
        changes["temperature"] = float(given["temperature"])
    if given.get("max_response_output_tokens") is not None:
        param = dialect.session_param("max_response_output_tokens", "response")
        changes["max_output_tokens"] = check_max_tokens(given["max_response_output_tokens"], param)
    conversation = getattr(response, "conversation", None) or "auto"
    if conversation not in ("auto", "none"):
        raise ProtocolError(
            f"Invalid value: {str(conversation)[:64]!r}. Supported values are: 'auto' and 'none'.",
            code="invalid_value",
            param="response.conversation",
        )
    metadata = getattr(response, "metadata", None)
    if metadata is not None:
        _check_metadata(metadata)
    inputs = getattr(response, "input", None)
    return ResponseRequest(
        settings=dataclasses.replace(base, **changes),
        out_of_band=conversation == "none",
        metadata=metadata,
        input_items=None
        if inputs is None
        else [_input_item(item, index) for index, item in enumerate(inputs)],
    )


def _input_item(model: ProtocolModel, index: int) -> Any:
    """One ``response.input`` entry: a reference to a conversation item, or an item of its own."""
    if getattr(model, "type", None) == "item_reference":
        return ItemReference(str(getattr(model, "id", None)))
    return item_from_model(model, f"response.input[{index}]")


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

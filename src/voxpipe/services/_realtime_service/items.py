"""Conversation history as realtime conversation items: one item per message, with the right role.

Today's frameworks often pack a whole chat history into one user message; the model then hears its own
past answers as something the user said. Here every message becomes its own item: user and system text as
``input_text``, assistant text as ``text``, assistant tool calls as ``function_call`` items and tool
results as ``function_call_output`` items.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["function_output", "item_transcript", "message_to_items", "messages_to_items"]

logger = logging.getLogger(__name__)


def _text_of(content: Any) -> str:
    """Flatten OpenAI chat content (a string or a list of parts) to text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, Mapping):
                parts.append(str(part.get("text") or part.get("transcript") or ""))
            else:
                parts.append(str(part))
        return "".join(parts)
    return str(content)


def message_to_items(message: Mapping[str, Any], assistant_text_type: str = "text") -> list[dict[str, Any]]:
    """Convert one chat message to the items (wire dicts) that carry it; none for an empty message.

    Args:
        message: an OpenAI chat message.
        assistant_text_type: the content type of assistant text: ``text`` (beta) or ``output_text`` (GA).
    """
    role = message.get("role")
    text = _text_of(message.get("content"))
    items: list[dict[str, Any]] = []
    if role in ("user", "system"):
        if text:
            items.append({"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]})
    elif role == "assistant":
        if text:
            content = [{"type": assistant_text_type, "text": text}]
            items.append({"type": "message", "role": "assistant", "content": content})
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            arguments = function.get("arguments", "{}")
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments)
            items.append(
                {
                    "type": "function_call",
                    "call_id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": arguments,
                }
            )
    elif role == "tool":
        output = message.get("content")
        items.append(
            {
                "type": "function_call_output",
                "call_id": message.get("tool_call_id"),
                "output": output if isinstance(output, str) else json.dumps(output),
            }
        )
    else:
        logger.warning("message with role %r has no realtime item form; skipped", role)
    return items


def messages_to_items(
    messages: Iterable[Mapping[str, Any]], assistant_text_type: str = "text"
) -> list[dict[str, Any]]:
    """Convert a chat history to conversation items (wire dicts), in order."""
    items: list[dict[str, Any]] = []
    for message in messages:
        items.extend(message_to_items(message, assistant_text_type))
    return items


def item_transcript(item: Any) -> str:
    """The text or transcript carried by a conversation item (empty when it has none)."""
    content = getattr(item, "content", None) or []
    parts = []
    for part in content:
        value = getattr(part, "text", None) or getattr(part, "transcript", None)
        if value is None and isinstance(part, Mapping):
            value = part.get("text") or part.get("transcript")
        if value:
            parts.append(str(value))
    return "".join(parts)


def function_output(result: Any) -> str:
    """A function's result as the ``output`` string of a ``function_call_output`` item (JSON, or text)."""
    if isinstance(result, str):
        return result
    try:
        return json.dumps(result)
    except (TypeError, ValueError):
        return json.dumps(str(result))

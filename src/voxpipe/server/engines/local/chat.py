"""Turning an ``LLMRequest`` into the chat-template input of a small local model.

The prompt is rendered by the model's own template from the GGUF (Qwen2.5's describes tools itself and asks
for calls as JSON). Two rules keep it fast and sane:

* **A stable prefix.** The system prompt is exactly ``instructions`` and the tools block is rendered from
  the same dicts in the same order every turn, so the text before the first message is byte-identical
  across turns and llama.cpp reuses its cached evaluation (first token about 0.1 s instead of 0.8 s).
* **Tool results without tools.** At 0.5B, a result fed back as a ``tool`` message makes the model call
  the same tool again. When the request follows a function result (its last item is one), the prompt is
  rendered *without* tools, and each call with its result becomes a short system note placed where the
  call happened. The answer then reads the result instead of repeating the call. The same happens for
  ``tool_choice="none"``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines.base import (
    FunctionCall,
    FunctionCallOutput,
    FunctionTool,
    LLMItem,
    LLMMessage,
    LLMRequest,
)

__all__ = ["call_schema", "render_inputs", "tools_in_play"]


def tools_in_play(request: LLMRequest) -> Sequence[FunctionTool]:
    """The tools the prompt shows for this request (none after a function result or with ``none``)."""
    if not request.tools or request.tool_choice == "none":
        return ()
    if request.messages and isinstance(request.messages[-1], FunctionCallOutput):
        return ()
    if request.tool_choice not in ("auto", "required"):
        names = [tool.name for tool in request.tools]
        if request.tool_choice not in names:
            raise VoxpipeUsageError(
                f"tool_choice names {request.tool_choice!r}, which is not among the tools: {', '.join(names)}"
            )
    return request.tools


def render_inputs(
    request: LLMRequest, tools: Sequence[FunctionTool], skip: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """Template ``messages`` and ``tools`` for ``request``, leaving out its ``skip`` oldest items."""
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    items = list(request.messages)[skip:]
    if tools:
        messages += _with_tool_messages(items)
    else:
        messages += _with_notes(items)
    if not messages:  # the template reads messages[0]
        messages.append({"role": "user", "content": ""})
    tool_dicts = [_tool_dict(tool) for tool in tools] if tools else None
    return messages, tool_dicts


def _tool_dict(tool: FunctionTool) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": dict(tool.parameters)},
    }


def _arguments(call: FunctionCall) -> Any:
    try:
        return json.loads(call.arguments) if call.arguments else {}
    except ValueError:
        return call.arguments


def _with_tool_messages(items: Sequence[LLMItem]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, LLMMessage):
            out.append({"role": item.role, "content": item.content})
        elif isinstance(item, FunctionCall):
            call = {"type": "function", "function": {"name": item.name, "arguments": _arguments(item)}}
            if out and out[-1]["role"] == "assistant" and "tool_calls" in out[-1]:
                out[-1]["tool_calls"].append(call)
            else:
                out.append({"role": "assistant", "content": "", "tool_calls": [call]})
        else:
            out.append({"role": "tool", "content": item.output})
    return out


def _with_notes(items: Sequence[LLMItem]) -> list[dict[str, Any]]:
    calls: dict[str, FunctionCall] = {}
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, LLMMessage):
            out.append({"role": item.role, "content": item.content})
        elif isinstance(item, FunctionCall):
            calls[item.call_id] = item
        else:
            call = calls.get(item.call_id)
            what = f"{call.name}({call.arguments})" if call else "a function"
            out.append(
                {
                    "role": "system",
                    "content": f"You called {what}. It returned: {item.output}\n"
                    "Use this result to answer the user's last message.",
                }
            )
    return out


def call_schema(tools: Sequence[FunctionTool], choice: str) -> dict[str, Any]:
    """JSON schema of a call the model must make (``required`` or a named tool), for a grammar."""
    chosen = [tool for tool in tools if choice in ("required", tool.name)]
    variants = [
        {
            "type": "object",
            "properties": {"name": {"enum": [tool.name]}, "arguments": dict(tool.parameters)},
            "required": ["name", "arguments"],
        }
        for tool in chosen
    ]
    return variants[0] if len(variants) == 1 else {"anyOf": variants}

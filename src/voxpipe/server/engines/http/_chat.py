"""An ``LLMRequest`` as an OpenAI chat-completions body, and streamed ``tool_calls`` deltas as ``ToolCall``s.

The mapping follows ``LLMRequest``'s own description: ``instructions`` is the system message, then the
conversation oldest first; a ``FunctionCall`` is an assistant message with ``tool_calls`` (consecutive
calls share one), its ``FunctionCallOutput`` a ``tool`` message with the call's id. The OpenAI API
refuses an assistant call that no ``tool`` message answers before the next message, which happens in a
voice session when the user speaks before the client sends the result: such a call gets a ``tool``
message saying no result was given, and a result that arrives later (or for a call no longer in the
history) becomes a system note, so no request is ever refused for its history.

Tool calls arrive in pieces keyed by ``index``: the id and name in the first piece (llama.cpp's server
repeats both in every piece), the arguments as string fragments to concatenate. ``ToolCallAssembler``
joins them and, once the choice finishes, hands out only calls of declared tools whose arguments are a
JSON object that validates against the tool's schema (the local engines' ``parse_tool_call``); anything
else is dropped and logged, never passed on.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines.base import (
    FunctionCall,
    FunctionTool,
    LLMMessage,
    LLMRequest,
    ToolCall,
)
from voxpipe.server.engines.local.tools import parse_tool_call

__all__ = ["ToolCallAssembler", "chat_messages", "chat_tools", "declared_tools"]

logger = logging.getLogger(__name__)

_NO_RESULT = "(no result was given for this call)"


def declared_tools(request: LLMRequest) -> Sequence[FunctionTool]:
    """The tools whose calls may come out of this request: none with ``tool_choice="none"``.

    Raises:
        VoxpipeUsageError: ``tool_choice`` names a tool that is not among ``tools``.
    """
    names = [tool.name for tool in request.tools]
    if request.tool_choice not in ("auto", "none", "required") and request.tool_choice not in names:
        raise VoxpipeUsageError(
            f"tool_choice names {request.tool_choice!r}, which is not among the tools: "
            f"{', '.join(names) or '(none)'}"
        )
    return () if request.tool_choice == "none" else request.tools


def chat_tools(request: LLMRequest) -> dict[str, Any]:
    """The ``tools`` and ``tool_choice`` fields (empty without tools).

    Tools are sent in the same order and shape every turn, also with ``tool_choice="none"``, so the
    prompt prefix stays identical and a backend's prompt cache keeps working.
    """
    if not request.tools:
        return {}
    tools = [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": dict(tool.parameters),
            },
        }
        for tool in request.tools
    ]
    choice: Any = request.tool_choice
    if choice not in ("auto", "none", "required"):
        choice = {"type": "function", "function": {"name": choice}}
    return {"tools": tools, "tool_choice": choice}


def chat_messages(request: LLMRequest) -> list[dict[str, Any]]:
    """The ``messages`` field: instructions as the system message, then the history (see the module)."""
    out: list[dict[str, Any]] = []
    if request.instructions:
        out.append({"role": "system", "content": request.instructions})
    waiting: list[str] = []  # ids of the last assistant message's calls not answered yet
    for item in request.messages:
        if isinstance(item, FunctionCall):
            call = {
                "id": item.call_id,
                "type": "function",
                "function": {"name": item.name, "arguments": item.arguments or "{}"},
            }
            if out and out[-1]["role"] == "assistant" and "tool_calls" in out[-1]:
                out[-1]["tool_calls"].append(call)
            else:
                _close_calls(out, waiting)
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
            waiting.append(item.call_id)
        elif isinstance(item, LLMMessage):
            _close_calls(out, waiting)
            out.append({"role": item.role, "content": item.content})
        elif item.call_id in waiting:
            waiting.remove(item.call_id)
            out.append({"role": "tool", "tool_call_id": item.call_id, "content": item.output})
        else:
            _close_calls(out, waiting)
            out.append({"role": "system", "content": f"A function call returned: {item.output}"})
    _close_calls(out, waiting)
    return out


def _close_calls(out: list[dict[str, Any]], waiting: list[str]) -> None:
    """Answer every call still waiting, so the API accepts the message that follows."""
    for call_id in waiting:
        out.append({"role": "tool", "tool_call_id": call_id, "content": _NO_RESULT})
    waiting.clear()


@dataclass(slots=True)
class _Pending:
    call_id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ToolCallAssembler:
    """Joins streamed ``tool_calls`` pieces by index and hands out the accepted calls when complete.

    Args:
        tools: the declared tools (``declared_tools``); a call of any other name is dropped.
    """

    def __init__(self, tools: Sequence[FunctionTool]) -> None:
        self._tools = tools
        self._pending: dict[int, _Pending] = {}
        self._last = -1

    def add(self, piece: Mapping[str, Any]) -> None:
        """Take one element of a delta's ``tool_calls`` list."""
        index = piece.get("index")
        if not isinstance(index, int):  # some servers leave it out: a new id starts a new call
            new_id = piece.get("id")
            current = self._pending.get(self._last)
            index = (
                self._last + 1 if current is None or (new_id and new_id != current.call_id) else self._last
            )
        call = self._pending.setdefault(index, _Pending())
        self._last = max(self._last, index)
        if isinstance(piece.get("id"), str) and not call.call_id:
            call.call_id = piece["id"]
        function = piece.get("function")
        if not isinstance(function, Mapping):
            return
        name = function.get("name")
        if isinstance(name, str) and name != call.name:  # llama.cpp repeats the whole name each time
            call.name += name
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            call.arguments.append(arguments)
        elif isinstance(arguments, Mapping):  # Ollama-style: already an object
            call.arguments.append(json.dumps(arguments))

    def complete(self) -> list[ToolCall]:
        """The accepted calls gathered so far, in index order; each is handed out once."""
        calls: list[ToolCall] = []
        for index in sorted(self._pending):
            pending = self._pending[index]
            arguments = "".join(pending.arguments).strip() or "{}"
            if not pending.name:
                logger.info("llm: tool call %d dropped: no function name", index)
                continue
            parsed = parse_tool_call(json.dumps({"name": pending.name, "arguments": arguments}), self._tools)
            if parsed is not None:
                call_id = pending.call_id or f"call_{secrets.token_hex(8)}"
                calls.append(ToolCall(call_id=call_id, name=parsed[0], arguments=parsed[1]))
        self._pending.clear()
        self._last = -1
        return calls

    @property
    def pending(self) -> bool:
        """Whether pieces were taken that ``complete`` has not handed out yet."""
        return bool(self._pending)

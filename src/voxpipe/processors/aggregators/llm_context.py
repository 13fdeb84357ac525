"""``LLMContext``: the conversation a language model sees (messages, tools, tool choice, system prompt).

Messages are OpenAI chat-format dicts (``{"role": "user", "content": "Hi"}``), the lingua franca every
provider adapter converts from. Function calls keep OpenAI's pairing: an assistant message whose
``tool_calls`` names the call, followed by a ``tool`` message with the same ``tool_call_id``; while a call
runs, its ``tool`` message holds a placeholder, so the history is valid to send at every moment.

``OpenAILLMContext`` is the same class under the name pipecat users know.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from voxpipe.adapters.schemas.tools_schema import ToolsSchema
from voxpipe.errors import VoxpipeUsageError

__all__ = [
    "FUNCTION_CALL_CANCELLED",
    "FUNCTION_CALL_IN_PROGRESS",
    "LLMContext",
    "OpenAILLMContext",
]

FUNCTION_CALL_IN_PROGRESS = "IN_PROGRESS"
"""Content of a call's ``tool`` message until its result arrives."""

FUNCTION_CALL_CANCELLED = "CANCELLED"
"""Content of a call's ``tool`` message when the call was cancelled (by an interruption)."""

LOG_TEXT_LIMIT = 200
"""Strings longer than this are cut in :meth:`LLMContext.get_messages_for_logging`."""

_MEDIA_KEYS = frozenset({"audio", "data"})
"""Keys whose string values are media (base64 audio, images): never logged."""

_TOOL_CHOICES = frozenset({"auto", "none", "required"})


class LLMContext:
    """The conversation a language model sees.

    Args:
        messages: the history so far, OpenAI chat-format dicts (copied into a new list).
        tools: the tools the model may call: a :class:`ToolsSchema`, a list of tool dicts or
            ``FunctionSchema``\\ s, or None.
        tool_choice: ``"auto"``, ``"none"``, ``"required"``, a dict naming one function, or None (the
            provider's default).
        system: system instructions kept apart from the messages (a realtime session sends them as the
            session's ``instructions``).

    Raises:
        VoxpipeUsageError: a message is not a dict with a ``role``, or tools/tool_choice have a wrong type.
    """

    def __init__(
        self,
        messages: Iterable[dict[str, Any]] | None = None,
        tools: ToolsSchema | list[Any] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        *,
        system: str | None = None,
    ) -> None:
        self._messages: list[dict[str, Any]] = []
        self._tools: ToolsSchema | list[Any] | None = None
        self._tool_choice: str | dict[str, Any] | None = None
        self._system: str | None = None
        if messages is not None:
            self.add_messages(messages)
        self.set_tools(tools)
        self.set_tool_choice(tool_choice)
        self.system = system

    @classmethod
    def from_messages(cls, messages: Iterable[dict[str, Any]]) -> LLMContext:
        """A context holding ``messages`` and nothing else."""
        return cls(messages=messages)

    # -- messages ---------------------------------------------------------------------------------------
    @property
    def messages(self) -> list[dict[str, Any]]:
        """The history, as a live list (changes to it change the context)."""
        return self._messages

    def get_messages(self) -> list[dict[str, Any]]:
        """The history, as a live list (pipecat's accessor)."""
        return self._messages

    def add_message(self, message: dict[str, Any]) -> None:
        """Append one message.

        Raises:
            VoxpipeUsageError: the message is not a dict with a string ``role``.
        """
        self._messages.append(_check_message(message))

    def add_messages(self, messages: Iterable[dict[str, Any]]) -> None:
        """Append messages, in order; none is added when one is invalid."""
        checked = [_check_message(message) for message in _check_iterable(messages)]
        self._messages.extend(checked)

    def set_messages(self, messages: Iterable[dict[str, Any]]) -> None:
        """Replace the whole history."""
        checked = [_check_message(message) for message in _check_iterable(messages)]
        self._messages[:] = checked

    # -- tools and system -------------------------------------------------------------------------------
    @property
    def tools(self) -> ToolsSchema | list[Any] | None:
        """The tools the model may call, as they were given."""
        return self._tools

    def set_tools(self, tools: ToolsSchema | list[Any] | None) -> None:
        """Replace the tools.

        Raises:
            VoxpipeUsageError: ``tools`` is not a ToolsSchema, a list, or None.
        """
        if tools is not None and not isinstance(tools, ToolsSchema | list):
            raise VoxpipeUsageError(
                f"tools must be a ToolsSchema, a list or None, got {type(tools).__name__}"
            )
        self._tools = tools

    @property
    def tool_choice(self) -> str | dict[str, Any] | None:
        """How the model chooses tools (None: the provider's default)."""
        return self._tool_choice

    def set_tool_choice(self, tool_choice: str | dict[str, Any] | None) -> None:
        """Replace the tool choice.

        Raises:
            VoxpipeUsageError: not ``"auto"``, ``"none"``, ``"required"``, a dict, or None.
        """
        if tool_choice is not None and not isinstance(tool_choice, dict) and tool_choice not in _TOOL_CHOICES:
            raise VoxpipeUsageError(
                f"tool_choice must be one of {sorted(_TOOL_CHOICES)}, a dict or None, got {tool_choice!r}"
            )
        self._tool_choice = tool_choice

    @property
    def system(self) -> str | None:
        """System instructions kept apart from the messages."""
        return self._system

    @system.setter
    def system(self, system: str | None) -> None:
        if system is not None and not isinstance(system, str):
            raise VoxpipeUsageError(f"system must be a string or None, got {type(system).__name__}")
        self._system = system

    def get_system_instructions(self) -> str | None:
        """:attr:`system` if set, else the text of the first message if it is a system message.

        Realtime sessions have no system messages, only instructions: this is what they should use.
        """
        if self._system is not None:
            return self._system
        if self._messages and self._messages[0].get("role") in ("system", "developer"):
            content = self._messages[0].get("content")
            return content if isinstance(content, str) else _text_of_parts(content)
        return None

    # -- function calls ---------------------------------------------------------------------------------
    def add_function_call(
        self,
        function_name: str,
        tool_call_id: str,
        arguments: Mapping[str, Any] | str,
        *,
        result_placeholder: str | None = FUNCTION_CALL_IN_PROGRESS,
    ) -> None:
        """Record that the model called a function: an assistant ``tool_calls`` message, then (unless
        ``result_placeholder`` is None) a ``tool`` message holding the placeholder until the result comes.

        A call already recorded (same ``tool_call_id``) is not recorded twice.
        """
        if self.has_function_call(tool_call_id):
            return
        encoded = arguments if isinstance(arguments, str) else json.dumps(dict(arguments), ensure_ascii=False)
        self._messages.append(
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": tool_call_id,
                        "type": "function",
                        "function": {"name": function_name, "arguments": encoded},
                    }
                ],
            }
        )
        if result_placeholder is not None:
            self._messages.append(
                {"role": "tool", "content": result_placeholder, "tool_call_id": tool_call_id}
            )

    def add_function_call_result(
        self,
        tool_call_id: str,
        result: Any,
        *,
        function_name: str | None = None,
        arguments: Mapping[str, Any] | str | None = None,
    ) -> None:
        """Record a call's result: fill its ``tool`` message (or add one right after the call).

        Strings are kept as they are; other results are stored as JSON. When the call itself was never
        recorded, it is recorded first, which needs ``function_name``.

        Raises:
            VoxpipeUsageError: the call is unknown and no ``function_name`` was given.
        """
        content = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)
        for message in reversed(self._messages):
            if message.get("role") == "tool" and message.get("tool_call_id") == tool_call_id:
                message["content"] = content
                return
        index = self._function_call_index(tool_call_id)
        if index is None:
            if function_name is None:
                raise VoxpipeUsageError(
                    f"no function call {tool_call_id!r} in the context; pass function_name to record it"
                )
            self.add_function_call(function_name, tool_call_id, arguments or {}, result_placeholder=content)
            return
        # Tool messages must follow their assistant message: insert after it and its other results.
        insert_at = index + 1
        while insert_at < len(self._messages) and self._messages[insert_at].get("role") == "tool":
            insert_at += 1
        self._messages.insert(insert_at, {"role": "tool", "content": content, "tool_call_id": tool_call_id})

    def has_function_call(self, tool_call_id: str) -> bool:
        """Whether a call with this id is recorded."""
        return self._function_call_index(tool_call_id) is not None

    def _function_call_index(self, tool_call_id: str) -> int | None:
        for index in range(len(self._messages) - 1, -1, -1):
            message = self._messages[index]
            for call in message.get("tool_calls") or ():
                if isinstance(call, Mapping) and call.get("id") == tool_call_id:
                    return index
        return None

    # -- logging ----------------------------------------------------------------------------------------
    def get_messages_for_logging(self) -> list[dict[str, Any]]:
        """A copy of the messages fit for logs: long strings cut, media (audio, images) replaced by a size.

        Never includes audio or image bytes, whatever shape they came in (bytes, base64, data URLs).
        """
        return [_redact(message, None) for message in self._messages]

    def __repr__(self) -> str:
        tools = len(self._tools) if self._tools is not None else 0
        return f"<{type(self).__name__} messages={len(self._messages)} tools={tools}>"


OpenAILLMContext = LLMContext
"""pipecat's name for :class:`LLMContext`."""


def _check_message(message: object) -> dict[str, Any]:
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        raise VoxpipeUsageError(
            f"a message must be a dict with a 'role' (OpenAI chat format), got {_describe(message)}"
        )
    return message


def _check_iterable(messages: object) -> Iterable[Any]:
    if isinstance(messages, str | bytes | Mapping) or not isinstance(messages, Iterable):
        raise VoxpipeUsageError(f"messages must be a list of message dicts, got {type(messages).__name__}")
    return messages


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))}"
    return type(value).__name__


def _text_of_parts(content: object) -> str | None:
    if not isinstance(content, list):
        return None
    texts = [
        part.get("text", "") for part in content if isinstance(part, Mapping) and part.get("type") == "text"
    ]
    return "".join(texts) if texts else None


def _redact(value: Any, key: str | None) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, str):
        if key in _MEDIA_KEYS or (value.startswith("data:") and len(value) > 64):
            return f"<{len(value)} chars of media>"
        if len(value) > LOG_TEXT_LIMIT:
            return f"{value[:LOG_TEXT_LIMIT]}... ({len(value)} chars)"
        return value
    if isinstance(value, Mapping):
        return {k: _redact(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(item, None) for item in value]
    return value

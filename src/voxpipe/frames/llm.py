"""Frames that talk to language-model services: responses, messages, settings, tools, function calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voxpipe.frames.base import ControlFrame, DataFrame, SystemFrame, UninterruptibleFrame

__all__ = [
    "FunctionCallCancelFrame",
    "FunctionCallFromLLM",
    "FunctionCallInProgressFrame",
    "FunctionCallResultFrame",
    "FunctionCallResultProperties",
    "FunctionCallsStartedFrame",
    "LLMContextFrame",
    "LLMFullResponseEndFrame",
    "LLMFullResponseStartFrame",
    "LLMMessagesAppendFrame",
    "LLMMessagesUpdateFrame",
    "LLMSetToolsFrame",
    "LLMUpdateSettingsFrame",
    "OpenAILLMContextFrame",
]


@dataclass(slots=True, kw_only=True)
class LLMFullResponseStartFrame(ControlFrame):
    """A model response begins; its text frames follow."""


@dataclass(slots=True, kw_only=True)
class LLMFullResponseEndFrame(ControlFrame):
    """A model response has ended."""


@dataclass(slots=True, kw_only=True)
class LLMContextFrame(DataFrame):
    """Carries the conversation context to a language-model service, asking it to answer.

    Attributes:
        context: the context object (for the realtime service, an ``OpenAIRealtimeLLMContext``).
    """

    context: Any


OpenAILLMContextFrame = LLMContextFrame
"""The name pipecat users know for :class:`LLMContextFrame`."""


@dataclass(slots=True, kw_only=True)
class LLMMessagesAppendFrame(DataFrame):
    """Appends messages (OpenAI chat format) to the conversation.

    Attributes:
        messages: messages such as ``{"role": "user", "content": "Hi"}``.
        run_llm: ask for a response after appending; None lets the service decide (it answers when the
            last appended message is the user's).
    """

    messages: list[dict[str, Any]]
    run_llm: bool | None = None


@dataclass(slots=True, kw_only=True)
class LLMMessagesUpdateFrame(DataFrame):
    """Replaces the conversation's messages."""

    messages: list[dict[str, Any]]
    run_llm: bool | None = None


@dataclass(slots=True, kw_only=True)
class LLMUpdateSettingsFrame(ControlFrame):
    """Changes only the given settings of a language-model service (for a realtime service: session fields).

    Attributes:
        settings: the fields to change, by name.
    """

    settings: dict[str, Any]


@dataclass(slots=True, kw_only=True)
class LLMSetToolsFrame(DataFrame):
    """Replaces the tools the model may call (a ``ToolsSchema`` or a list of provider tool dicts)."""

    tools: Any


@dataclass(slots=True, kw_only=True)
class FunctionCallFromLLM:
    """A function call the model asked for."""

    function_name: str
    tool_call_id: str
    arguments: dict[str, Any]
    context: Any = None


@dataclass(slots=True, kw_only=True)
class FunctionCallsStartedFrame(SystemFrame):
    """The model asked for one or more function calls; they are about to run."""

    function_calls: list[FunctionCallFromLLM]


@dataclass(slots=True, kw_only=True)
class FunctionCallInProgressFrame(SystemFrame):
    """A function call is running.

    Attributes:
        cancel_on_interruption: an interruption cancels the call (its result is then never sent).
    """

    function_name: str
    tool_call_id: str
    arguments: dict[str, Any]
    cancel_on_interruption: bool = False


@dataclass(slots=True, kw_only=True)
class FunctionCallCancelFrame(SystemFrame):
    """A running function call was cancelled."""

    function_name: str
    tool_call_id: str


@dataclass(slots=True, kw_only=True)
class FunctionCallResultProperties:
    """How a function result is handled.

    Attributes:
        run_llm: ask the model to answer after the result (None: the service decides).
        on_context_updated: awaited once the result is part of the conversation.
    """

    run_llm: bool | None = None
    on_context_updated: Any = None


@dataclass(slots=True, kw_only=True)
class FunctionCallResultFrame(DataFrame, UninterruptibleFrame):
    """The result of a function call. Never dropped by an interruption: the model must see every result."""

    function_name: str
    tool_call_id: str
    arguments: dict[str, Any]
    result: Any
    run_llm: bool | None = None
    properties: FunctionCallResultProperties | None = field(default=None, repr=False)

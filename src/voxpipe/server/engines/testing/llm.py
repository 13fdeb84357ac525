"""A scriptable, deterministic LLM: fixed answers, echoes and tool calls on demand.

What it answers, first rule that applies (``text`` = the last user message, ``instructions`` = the
request's instructions):

1. the last item is a ``function_call_output``: ``"The result is <output>."``;
2. ``tool_choice`` allows tools and a declared tool is asked for: ``"weather in <word>"`` calls
   ``get_weather`` with ``{"city": "<Word>"}`` (title case) when ``get_weather`` is declared, and
   ``"call <name>"`` calls ``<name>`` with ``{}`` when ``<name>`` is declared; ``tool_choice`` ``required``
   or a tool name forces a call (of that tool, or the first) with ``{}`` when no rule matched;
3. ``replies`` (an engine option): the first key found in ``text`` (case-insensitive) gives the answer;
4. the instructions contain a line ``Answer: <text>``: that text;
5. ``text`` contains ``long story``: ``story_words`` numbered words (for cancel tests);
6. otherwise ``"You said: <text>"`` plus a full stop unless it ends with one of ``.?!`` (``"Hello."``
   when there is no user text).

Text streams one word per ``TextDelta`` with ``token_delay_s`` between them; ``Usage`` counts words.
With a ``continuation`` (the engine is ``resumable``), the answer streams from where that text ends.

``end_of_turn`` (semantic VAD's question) reads the last user message by rule, on the local model's scale
(``connection/end_of_turn.py``): 0.95 when it ends with ``.``, ``?`` or ``!``; 0.0005 when its last word
leaves it hanging (``and``, ``but``, ``or``, ``so``, ``um``, ``uh``, ``the``, ``a``, ``to``, ``of``,
``with``, ``then``); 0.05 otherwise (a clause that may go on).

``prefill`` keeps what it was asked in ``prefilled`` (the last user message of each request) and yields
one step per word of it, ``token_delay_s`` apart, so tests can see what a session reads ahead and when
it stops.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import AsyncIterator, Mapping

from voxpipe.server.engines.base import LLMEngine
from voxpipe.server.engines.types import (
    FunctionCallOutput,
    LLMCapabilities,
    LLMChunk,
    LLMMessage,
    LLMRequest,
    TextDelta,
    ToolCall,
    Usage,
)

__all__ = ["ScriptedLLMEngine"]

_WEATHER = re.compile(r"weather in ([a-z][a-z-]*)", re.IGNORECASE)
_CALL = re.compile(r"\bcall ([A-Za-z_][A-Za-z0-9_]*)")
_ANSWER = re.compile(r"^Answer:\s*(.+)$", re.MULTILINE)
_HANGING = frozenset({"and", "but", "or", "so", "um", "uh", "the", "a", "to", "of", "with", "then"})


class ScriptedLLMEngine(LLMEngine):
    """Deterministic LLM (see the module docstring).

    Args:
        replies: substring -> answer, checked in order (case-insensitive).
        token_delay_s: pause between streamed words.
        story_words: length of the ``long story`` answer.
    """

    def __init__(
        self,
        replies: Mapping[str, str] | None = None,
        token_delay_s: float = 0.0,
        story_words: int = 200,
    ) -> None:
        self.capabilities = LLMCapabilities(
            model="voxpipe-scripted", tool_calls=True, context_tokens=32768, resumable=True
        )
        self._replies = {key.lower(): value for key, value in (replies or {}).items()}
        self._token_delay_s = token_delay_s
        self._story_words = story_words
        self.prefilled: list[str] = []

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """Yield the answer word by word (or one tool call), then the usage."""
        input_tokens = _count_words(request)
        call = self._tool_call(request)
        if call is not None:
            await asyncio.sleep(0)
            yield call
            yield Usage(input_tokens=input_tokens, output_tokens=len(call.arguments.split()) + 1)
            return
        words = self._answer(request).split(" ")
        deltas = [word if index == 0 else " " + word for index, word in enumerate(words)]
        said = ""  # a continuation: what was already said is skipped
        while request.continuation and deltas and request.continuation.startswith(said + deltas[0]):
            said += deltas.pop(0)
        for index, delta in enumerate(deltas):
            if index and self._token_delay_s:
                await asyncio.sleep(self._token_delay_s)
            yield TextDelta(delta)
        yield Usage(input_tokens=input_tokens, output_tokens=len(deltas))

    async def end_of_turn(self, request: LLMRequest, *, answer_next: bool = True) -> float | None:
        """The rule of the module docstring."""
        text = _last_user_text(request)
        if not text:
            return None
        if text[-1] in ".?!":
            return 0.95
        return 0.0005 if text.split()[-1].lower() in _HANGING else 0.05

    async def prefill(self, request: LLMRequest) -> AsyncIterator[int]:
        """Record the words; one step per word (see the module docstring)."""
        text = _last_user_text(request)
        self.prefilled.append(text)
        for index in range(1, len(text.split()) + 1):
            if self._token_delay_s:
                await asyncio.sleep(self._token_delay_s)
            yield index

    def _tool_call(self, request: LLMRequest) -> ToolCall | None:
        names = [tool.name for tool in request.tools]
        if not names or request.tool_choice == "none" or _last_is_output(request):
            return None
        text = _last_user_text(request)
        forced = request.tool_choice not in ("auto", "none")
        weather = _WEATHER.search(text)
        if weather and "get_weather" in names and request.tool_choice in ("auto", "required", "get_weather"):
            return self._call("get_weather", {"city": weather.group(1).title()})
        named = _CALL.search(text)
        if named and named.group(1) in names and request.tool_choice in ("auto", "required", named.group(1)):
            return self._call(named.group(1), {})
        if forced:
            return self._call(names[0] if request.tool_choice == "required" else request.tool_choice, {})
        return None

    def _call(self, name: str, arguments: dict[str, str]) -> ToolCall:
        call_id = f"call_{secrets.token_hex(8)}"
        return ToolCall(call_id=call_id, name=name, arguments=json.dumps(arguments))

    def _answer(self, request: LLMRequest) -> str:
        if request.messages and isinstance(request.messages[-1], FunctionCallOutput):
            return f"The result is {request.messages[-1].output}."
        text = _last_user_text(request)
        lowered = text.lower()
        for key, reply in self._replies.items():
            if key in lowered:
                return reply
        fixed = _ANSWER.search(request.instructions)
        if fixed:
            return fixed.group(1).strip()
        if "long story" in lowered:
            return " ".join(f"word{i}" for i in range(1, self._story_words + 1)) + "."
        if not text:
            return "Hello."
        return f"You said: {text}" + ("" if text[-1] in ".?!" else ".")


def _last_user_text(request: LLMRequest) -> str:
    for item in reversed(request.messages):
        if isinstance(item, LLMMessage) and item.role == "user":
            return item.content.strip()
    return ""


def _last_is_output(request: LLMRequest) -> bool:
    return bool(request.messages) and isinstance(request.messages[-1], FunctionCallOutput)


def _count_words(request: LLMRequest) -> int:
    count = len(request.instructions.split())
    for item in request.messages:
        count += len(item.content.split()) if isinstance(item, LLMMessage) else 4
    return count

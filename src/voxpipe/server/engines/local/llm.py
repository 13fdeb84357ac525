"""LLM with llama.cpp (``llama-cpp-python``) on Qwen2.5-Coder-0.5B-Instruct Q4_K_M, its 1.5B, or SmolLM2-135M.

One model per process, shared by all sessions through one ``_batch_decoder.BatchDecoder``: a thread that
alone touches the model and decodes the calls in progress together, one ``llama_decode`` a step holding
the next token of each generation and the prompt tokens of the calls reading theirs (three sessions'
tokens cost about twice one's: the decoding is memory-bound). Closing a stream stops its call at the next
step (65-120 ms at most).

What differs between the models is a small ``profiles.ModelProfile`` each: weights, template fixes, and
whether tool calls are decided inline (below) or by a separate routing pass (the 1.5B; see ``profiles``).

The prompt is rendered by the GGUF's own chat template (``chat_format`` left unset; see ``chat``; with the
profile's fixes), and the tool call comes back as JSON text which ``tools.parse_tool_call`` accepts only for
a declared tool with arguments that validate. With ``tool_choice`` ``required`` or a tool's name, a JSON
grammar forces a well-formed call. In ``auto`` mode the first characters decide: text that starts like JSON
(``{``, a fence, ``<tool_call>``) is held back and parsed at the end; anything else streams as text at once.
A held-back call that is not accepted (an invented tool, invalid arguments, or free-text arguments none of
whose words the user said) is dropped, and the model answers again with the tools hidden, so the user gets
words rather than silence (the second pass costs a prompt evaluation: a few hundred ms).

Every call's evaluated tokens stay in its sequence of the context after it ends (``sequences`` of them,
the least recently used given up first), and a call's prompt starts from the sequence sharing most of it
(its own conversation, or another one's system block, whose cells are shared rather than copied); so
alternating prompts (routing and answer, tools shown and hidden) find their prefixes cached, and sessions
taking turns at the model each find their own words cached when they come back to it.

A request with a ``continuation`` (an answer that gave the model up to another answer's first words,
``voxpipe.server.scheduling``) renders the same prompt followed by the words already said and goes on
from them: its sequence still holds them unless the cache needed the room.

Sampling follows the request (temperature, max tokens) with ``repeat_penalty`` 1.0, except that the
temperature is capped at ``tool_temperature`` (0.2) while tools are in play: at 0.5B, hotter sampling
breaks the JSON of calls; and at ``answer_temperature`` (0.2) for answers in words: at the protocol's
default 0.8 the 0.5B model got 30 of ``bench/answer_quality.py``'s 42 prompts right, at 0.2 (and at 0)
34, missing simple facts less often (Saturn as the largest planet, Samuel Johnson for Romeo and Juliet).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines.base import (
    EngineError,
    FunctionTool,
    LLMCapabilities,
    LLMChunk,
    LLMEngine,
    LLMMessage,
    LLMRequest,
    TextDelta,
    ToolCall,
    Usage,
)
from voxpipe.server.engines.local._batch_decoder import (
    BatchDecoder,
    Call,
    Finished,
    Progress,
    Prompt,
    Read,
    Sampling,
    Started,
    StepReport,
    common_prefix,
)
from voxpipe.server.engines.local._busy import BusyEngines, ThreadChoice
from voxpipe.server.engines.local._errors import model_errors
from voxpipe.server.engines.local._llama_backend import LlamaBackend
from voxpipe.server.engines.local._speech_first import SpeechFirst
from voxpipe.server.engines.local.chat import call_schema, render_inputs, tools_in_play
from voxpipe.server.engines.local.profiles import DEFAULT_LLM, LLM_PROFILES, fix_template
from voxpipe.server.engines.local.tools import looks_like_call, parse_tool_call

__all__ = ["LLM_PROFILES", "LlamaLLMEngine"]

logger = logging.getLogger(__name__)

_ROUTING_MAX_TOKENS = 160
"""Enough for one call with a few arguments; the routing pass stops sooner at words that are not a call."""


class LlamaLLMEngine(LLMEngine):
    """A llama.cpp model shared by the sessions of the process; loads on first use (0.1-0.5 s).

    Args:
        model: a key of ``profiles.LLM_PROFILES``: Qwen2.5-Coder 0.5B (default) or 1.5B (better answers,
            slower, opt-in weights), or SmolLM2 (light, no tools).
        n_threads: threads while generating. 1 by default: on 2 shared cores, 2 threads were measured at
            40-45 tok/s when idle but down to 5 tok/s under contention, 1 thread a steady 23-30 tok/s.
        n_threads_batch: threads while evaluating the prompt. 1 by default for the same reason: a
            52-token prompt took a steady 0.40-0.48 s with 1 thread, 0.24 s to 2.2 s with 2.
        n_ctx: context window in tokens; the oldest messages are left out of longer conversations.
        max_output_tokens: cap when the request sets none.
        tool_temperature: temperature cap while tools are in play, or None to honour the request.
        answer_temperature: temperature cap for answers without tools, or None to honour the request.
        prime_instructions: instructions whose prompt ``warm_up`` evaluates, so that the first session
            using them (the server's default instructions) finds its prefix cached: its first token
            then comes about 0.3 s sooner. None primes a few tokens only.
        speech_first: generation pauses between tokens while the TTS engine makes audio (it marks that
            in the ``BusyEngines`` the gate reads: ``_speech_first``).
        idle_threads: threads for an evaluation (a token, a prompt) that starts while no other engine
            sharing ``busy`` computes (``_busy``); 0 or None: always ``n_threads``/``n_threads_batch``.
        busy: shared with the STT and TTS engines, which mark the time they compute.
        sequences: sequences of the llama.cpp context (``_batch_decoder``): calls decoded together at
            most, and conversations whose evaluated tokens stay cached between calls, so that sessions
            taking turns at the model each find their own words cached.
        cache_tokens: cells of the key-value cache all sequences share (None: twice ``n_ctx``); when
            it is full the least recently used idle conversation is dropped.
    """

    def __init__(
        self,
        model: str = DEFAULT_LLM,
        *,
        n_threads: int = 1,
        n_threads_batch: int = 1,
        n_ctx: int = 4096,
        max_output_tokens: int = 1024,
        tool_temperature: float | None = 0.2,
        answer_temperature: float | None = 0.2,
        prime_instructions: str | None = None,
        speech_first: SpeechFirst | None = None,
        idle_threads: int | None = None,
        busy: BusyEngines | None = None,
        sequences: int = 8,
        cache_tokens: int | None = None,
    ) -> None:
        if model not in LLM_PROFILES:
            raise VoxpipeUsageError(f"unknown local LLM {model!r}; choose one of: {', '.join(LLM_PROFILES)}")
        self._profile = LLM_PROFILES[model]
        self._n_threads = n_threads
        self._n_threads_batch = n_threads_batch
        self._n_ctx = n_ctx
        self._max_output_tokens = max_output_tokens
        self._tool_temperature = tool_temperature
        self._answer_temperature = answer_temperature
        self._prime_instructions = prime_instructions
        self._speech_first = speech_first
        self._threads = (
            ThreadChoice(busy, (n_threads, n_threads_batch), idle_threads)
            if busy is not None and idle_threads
            else None
        )
        self.capabilities = LLMCapabilities(
            model=model, tool_calls=self._profile.tool_calls, context_tokens=n_ctx, resumable=True
        )
        self._slots = sequences
        self._cache_tokens = cache_tokens or 2 * n_ctx
        self._model: Any = None  # llama_cpp's LlamaModel, loaded with the context (``_open``)
        self._backend: LlamaBackend | None = None
        self._formatter: Any = None
        self._eos = ""
        self._grammars: dict[str, str] = {}
        self._closing: Any = None  # token ids that close a sentence (``_closing_tokens``)
        self._decoder = BatchDecoder(
            self._open,
            slots=sequences,
            head_tokens=_HEAD_TOKENS,
            before_step=self._before_step,
            after_step=self._after_step,
        )

    def _open(self) -> LlamaBackend:
        """Load the model and open its context (on the decoder's thread, at the first call)."""
        started = time.perf_counter()
        path = self._profile.path()
        with model_errors(f"loading {path.name}", recoverable=False):
            import llama_cpp
            from llama_cpp import _internals, _logger, llama_chat_format

            _logger.set_verbose(False)  # llama.cpp's own log lines on stderr
            model = _internals.LlamaModel(
                path_model=str(path), params=llama_cpp.llama_model_default_params(), verbose=False
            )
            self._eos = model.token_get_text(model.token_eos())
            self._formatter = llama_chat_format.Jinja2ChatFormatter(
                template=fix_template(
                    model.metadata()["tokenizer.chat_template"], self._profile.template_fixes
                ),
                eos_token=self._eos,
                bos_token="",
            )
            self._model = model
            self._backend = LlamaBackend(
                model,
                cache_tokens=self._cache_tokens,
                sequences=self._slots,
                n_threads=self._n_threads,
                n_threads_batch=self._n_threads_batch,
            )
        logger.info("loaded %s in %.2f s", path.name, time.perf_counter() - started)
        return self._backend

    def _before_step(self) -> None:
        """Before a decode: the idle threads when nothing else computes, else the usual ones
        (``_busy.ThreadChoice``)."""
        if self._threads is not None and self._backend is not None:
            self._backend.set_threads(*self._threads.before_step())

    def _after_step(self, report: StepReport) -> None:
        """After a decode: time a step that only made tokens (``ThreadChoice``), and pause for Piper
        (``SpeechFirst``) unless another call's head is in the batch; a word that may complete an
        answer's first piece first gives it ``_EXPECT_SPEECH_S`` to reach Piper."""
        if not report.texts:
            return
        if self._threads is not None and not report.prompt_tokens:
            self._threads.token_done()
        if self._speech_first is not None and report.heads <= 1:
            head_word = any(index < _HEAD_TOKENS and text[:1].isspace() for index, text in report.texts)
            self._speech_first.wait_for_speech(_EXPECT_SPEECH_S if head_word else 0.0)

    async def warm_up(self) -> None:
        """Load the model and evaluate a prompt, so the weights are paged in before a session waits."""
        started = time.perf_counter()
        if self._prime_instructions is None:
            call = Call(self._hello_prompt)
        else:
            request = LLMRequest(
                self._prime_instructions, [LLMMessage("user", "Hello.")], max_output_tokens=1
            )
            call = Call(partial(self._primed_prompt, request), Sampling(0.0, 1))
        async with contextlib.aclosing(self._decoder.stream(call)) as items:
            async for _item in items:
                pass
        logger.info("primed the LLM in %.2f s", time.perf_counter() - started)

    def _hello_prompt(self) -> Prompt:
        self._closing_tokens()  # for the first end-of-turn judgement: a pass over the vocabulary
        return Prompt(self._tokenize("Hello"))

    def _primed_prompt(self, request: LLMRequest) -> Prompt:
        self._closing_tokens()
        return Prompt(self._prompt_tokens(request, ()))

    async def aclose(self) -> None:
        await asyncio.to_thread(self._decoder.close)
        self._model = None

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        tools = tools_in_play(request) if self._profile.tool_calls else ()
        if request.tools and not self._profile.tool_calls:
            logger.info("llm: %s cannot call tools; %d ignored", self.capabilities.model, len(request.tools))
        forced = request.tool_choice if tools and request.tool_choice != "auto" else None
        routing = self._profile.routing_instructions
        if request.continuation:  # the answer is words already: go on with them, no call to decide
            shown = () if routing is not None else tools  # a routed profile answers with no tools shown
            async for resumed in self._one_pass(request, shown, None, [], continuing=True):
                yield resumed
            return
        if tools and routing is not None:
            if forced is None:
                async for chunk in self._routed(request, tools, routing):
                    yield chunk
                return
            request = replace(request, instructions=routing)  # a required call: the plain prompt picks it
        usage = Usage()
        held: list[str] = []
        async for chunk in self._one_pass(request, tools, forced, held):
            if isinstance(chunk, Usage):
                usage = chunk
            else:
                yield chunk
        if held:  # the answer was a call
            parsed = parse_tool_call(held[0], tools, None if forced else _user_text(request))
            if parsed is not None:
                yield _tool_call(parsed)
            elif forced is None:
                # an invented tool or made-up arguments: answer in words instead of staying silent
                logger.info("llm: no valid tool call; answering again without tools")
                async for chunk in self._one_pass(request, (), None, []):
                    if isinstance(chunk, Usage):
                        usage = _add(usage, chunk)
                    else:
                        yield chunk
        yield usage

    async def _routed(
        self, request: LLMRequest, tools: Sequence[FunctionTool], instructions: str
    ) -> AsyncIterator[LLMChunk]:
        """A routed profile with tools: the routing pass, then a call the guard accepts or the answer.

        The routing pass renders the conversation with the plain ``instructions`` and the tools, samples
        greedily (a routing decision should not vary), and stops at the first characters that are not a
        call. Its words are never spoken: without an accepted call, the answer is generated again from
        the session's instructions with no tools, so the voice prompt shapes every spoken word.
        """
        routing = replace(request, instructions=instructions)
        text = ""
        usage = Usage()
        produce = self._generate(routing, tools, None, 0.0, until=_not_a_call, max_tokens=_ROUTING_MAX_TOKENS)
        async with contextlib.aclosing(produce) as pieces:
            async for piece in pieces:
                if isinstance(piece, Usage):
                    usage = piece
                else:
                    text += piece
        parsed = parse_tool_call(text, tools, _user_text(request)) if looks_like_call(text) else None
        if parsed is not None:
            yield _tool_call(parsed)
            yield usage
            return
        async for chunk in self._one_pass(request, (), None, []):
            if isinstance(chunk, Usage):
                usage = _add(usage, chunk)
            else:
                yield chunk
        yield usage

    async def end_of_turn(self, request: LLMRequest, *, answer_next: bool = True) -> float | None:
        """The model's probability that the user's sentence ends after these words (the idea of LiveKit's
        turn detector, with the answering model itself).

        Whisper punctuates what it hears as if it were finished ("What is the capital done?" for a half
        question), so the words are judged without their closing punctuation, and the probability is
        that of the next token closing the sentence: ``.``, ``?``, ``!`` or the end-of-message marker.
        On ``tests/fixtures/turns`` that put the first halves at 0.00-0.35 and the whole questions at
        0.00-0.95 (median 0.6), where the marker's probability after Whisper's text put both above 0.9.
        The prompt is the one the answer renders, up to the words, so it costs the words' tokens over the
        cached prefix, and the answer then reuses them.

        With ``answer_next``, the same evaluation reads the rest of the answer's prompt too (Whisper's
        closing punctuation, the end of the message, the assistant's header): one llama.cpp decode keeps
        the logits of the last word (the judgement) and of the prompt's last token, so an answer to these
        words that comes next (semantic VAD's speculation waits for the judgement) finds its whole prompt
        cached and samples its first token at once, where it evaluated those ~6 tokens in a decode of
        its own. Without it (no response follows the turn by itself), those tokens would only delay the
        verdict (~25 ms each on one core).
        """
        last = request.messages[-1] if request.messages else None
        if not isinstance(last, LLMMessage) or last.role != "user":
            return None
        words = _CLOSING.sub("", last.content).strip()
        if not words:
            return None
        judged = replace(request, messages=(*request.messages[:-1], LLMMessage("user", words)))
        # the prompt of the answer: a routed profile answers without tools
        tools = self._answer_tools(request)
        answer = request if answer_next else None
        call = Call(partial(self._judgement_prompt, judged, answer, tools), keep_logits=answer is not None)
        logits: np.ndarray | None = None
        async with contextlib.aclosing(self._decoder.stream(call)) as items:
            async for item in items:
                if isinstance(item, Read):
                    logits = item.logits.astype(np.float64)
        if logits is None:
            raise EngineError(
                "the end-of-turn judgement read no logits", code="server_error", recoverable=True
            )
        weights = np.exp(logits - logits.max())
        return float(weights[self._closing_tokens()].sum() / weights.sum())

    def _judgement_prompt(
        self, judged: LLMRequest, answer: LLMRequest | None, tools: Sequence[FunctionTool]
    ) -> Prompt:
        """On the decoder's thread: the prompt up to the user's words (``judged``: without their closing
        punctuation), read at its last token; followed by the rest of ``answer``'s prompt when that goes
        on from those words (else the punctuation changed how the words tokenize, or no answer follows)."""
        self._closing_tokens()
        prefix = self._up_to_the_words(judged, tools)
        if len(prefix) < 2:  # a chat prompt always has the system block before the words
            raise ValueError("the rendered prompt has no user message to judge")
        tokens = prefix
        if answer is not None:
            whole = self._prompt_tokens(answer, tools)
            if len(whole) > len(prefix) and common_prefix(prefix, whole) == len(prefix):
                tokens = whole
        return Prompt(tokens, read_at=len(prefix) - 1)

    async def prefill(self, request: LLMRequest) -> AsyncIterator[int]:
        """Evaluate the answer's prompt up to the end of the user's words (``LLMEngine.prefill``).

        ``_PREFILL_STEP`` tokens a step (about 0.25 s on one core alone; in a batch beside the others'
        tokens), so that closing the stream frees the model soon: the words a user says in a second are
        about one step. The prompt is the one ``end_of_turn`` reads (a routed profile's answer has no
        tools), so the judgement, the speculation and the answer at the end of the turn all find these
        words cached.
        """
        last = request.messages[-1] if request.messages else None
        if not isinstance(last, LLMMessage) or last.role != "user" or not last.content.strip():
            return
        tools = self._answer_tools(request)
        call = Call(partial(self._prefill_prompt, request, tools))
        async with contextlib.aclosing(self._decoder.stream(call)) as items:
            async for item in items:
                if isinstance(item, Progress):
                    yield item.cached

    def _prefill_prompt(self, request: LLMRequest, tools: Sequence[FunctionTool]) -> Prompt:
        prefix = self._up_to_the_words(request, tools)
        return Prompt(prefix if len(prefix) >= 2 else [], step_tokens=_PREFILL_STEP)

    def _answer_tools(self, request: LLMRequest) -> Sequence[FunctionTool]:
        """The tools of the prompt an answer to ``request`` renders (a routed profile answers without)."""
        return tools_in_play(request) if self._profile.tool_calls and not self._profile.routed else ()

    def _up_to_the_words(self, request: LLMRequest, tools: Sequence[FunctionTool]) -> list[int]:
        """On the decoder's thread: the prompt of ``request`` up to the end of its last message (empty
        when it has none)."""
        tokens = self._prompt_tokens(request, tools)
        marker = self._model.token_eos()
        if marker not in tokens:
            return []
        return tokens[: len(tokens) - 1 - tokens[::-1].index(marker)]  # the end of the last message

    def _closing_tokens(self) -> Any:
        """Ids of the tokens that close a sentence (``.``, ``?``, ``!``, maybe with quotes and a line
        break; not ``..``, which trails off) and of the end-of-message marker; found once per model, on
        the decoder's thread."""
        if self._closing is None:
            backend = self._backend
            assert backend is not None and self._model is not None
            ids = [
                token
                for token in range(backend.n_vocab)
                if _CLOSING_TOKEN.match(backend.piece(token).decode("utf-8", "ignore"))
            ]
            self._closing = np.array(sorted({*ids, self._model.token_eos()}), dtype=np.int64)
        return self._closing

    async def _one_pass(
        self,
        request: LLMRequest,
        tools: Sequence[FunctionTool],
        forced: str | None,
        held: list[str],
        *,
        continuing: bool = False,
    ) -> AsyncIterator[TextDelta | Usage]:
        """Stream one generation: text as it comes, or (call-shaped output) the whole text into ``held``;
        ``continuing``: the request's continuation is text, so the rest is too."""
        cap = self._tool_temperature if tools else self._answer_temperature
        temperature = request.temperature if cap is None else min(request.temperature, cap)
        deciding = bool(tools) and forced is None and not continuing
        calling = forced is not None
        text = ""
        usage = Usage()
        async with contextlib.aclosing(self._generate(request, tools, forced, temperature)) as pieces:
            async for piece in pieces:
                if isinstance(piece, Usage):
                    usage = piece
                elif not (deciding or calling):
                    yield TextDelta(piece)
                else:
                    text += piece
                    verdict = looks_like_call(text) if deciding else True
                    if verdict is False:
                        deciding = False
                        yield TextDelta(text.lstrip())
                        text = ""
                    elif verdict:
                        deciding, calling = False, True
        if calling:
            held.append(text)
        elif text.strip():
            yield TextDelta(text.lstrip())
        yield usage

    async def _generate(
        self,
        request: LLMRequest,
        tools: Sequence[FunctionTool],
        forced: str | None,
        temperature: float,
        *,
        until: Callable[[str], bool] | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[str | Usage, None]:
        """One completion in the decoder: text pieces, then the ``Usage``; ``until(text so far)``
        returning True ends it early (the routing pass)."""
        grammar = self._grammar(tools, forced) if forced else None
        cap = max_tokens or request.max_output_tokens or self._max_output_tokens
        counted: list[int] = []  # the prompt's tokens without the continuation's, set by prepare
        call = Call(
            partial(self._generation_prompt, request, tools, counted), Sampling(temperature, cap, grammar)
        )
        began = time.perf_counter()
        started = Started(0, 0)
        output = 0
        text = ""
        async with contextlib.aclosing(self._decoder.stream(call)) as items:
            async for item in items:
                if isinstance(item, str):
                    output += 1  # a token a piece (a token may leave half a character for the next)
                    yield item
                    if until is not None:
                        text += item
                        if until(text):
                            break
                elif isinstance(item, Started):
                    started = item
                elif isinstance(item, Finished):
                    output = item.output_tokens
        prompt = counted[0] if counted else started.prompt_tokens
        logger.debug(
            "llm: %d prompt tokens (%d cached), %d generated in %.2f s",
            started.prompt_tokens,
            started.cached_tokens,
            output,
            time.perf_counter() - began,
        )
        yield Usage(
            input_tokens=prompt, output_tokens=output, cached_tokens=min(started.cached_tokens, prompt)
        )

    def _generation_prompt(
        self, request: LLMRequest, tools: Sequence[FunctionTool], counted: list[int]
    ) -> Prompt:
        """On the decoder's thread: the prompt, followed by the words said before the answer gave the
        model up (``request.continuation``), and the room left for the answer in the context."""
        prompt = self._prompt_tokens(request, tools)
        counted.append(len(prompt))
        tokens = prompt
        if request.continuation:
            tokens = prompt + self._model.tokenize(request.continuation.encode("utf-8"), False, False)
        return Prompt(tokens, max_tokens=max(1, self._n_ctx - len(tokens)))

    def _tokenize(self, text: str) -> list[int]:
        tokens: list[int] = self._model.tokenize(text.encode("utf-8"), False, True)
        return tokens

    def _prompt_tokens(self, request: LLMRequest, tools: Sequence[FunctionTool]) -> list[int]:
        """Render and tokenize, leaving out the oldest messages until the prompt and an answer fit."""
        reserve = min(request.max_output_tokens or self._max_output_tokens, self._n_ctx // 4)
        for skip in range(len(request.messages) + 1):
            messages, tool_dicts = render_inputs(request, tools, skip)
            tokens = self._tokenize(self._formatter(messages=messages, tools=tool_dicts).prompt)
            if len(tokens) + reserve <= self._n_ctx:
                if skip:
                    logger.info("llm: left out the %d oldest items to fit the context", skip)
                return tokens
        raise EngineError(
            f"the instructions and tools alone need more than {self._n_ctx - reserve} tokens; shorten them "
            "or raise n_ctx",
            code="context_length_exceeded",
            recoverable=True,
        )

    def _grammar(self, tools: Sequence[FunctionTool], forced: str) -> str:
        """The GBNF of a call to ``forced`` (llama-cpp-python converts the JSON schema), cached."""
        from llama_cpp import LlamaGrammar

        schema = json.dumps(call_schema(tools, forced), sort_keys=True)
        if schema not in self._grammars:
            self._grammars[schema] = LlamaGrammar.from_json_schema(schema, verbose=False)._grammar
        return self._grammars[schema]


_PREFILL_STEP = 8

_HEAD_TOKENS = 8
"""An answer's first tokens, in which its first piece (two to four words) is cut and handed to Piper."""
_EXPECT_SPEECH_S = 0.005
"""How long the LLM gives a piece its word may have completed to reach Piper (``SpeechFirst``)."""


_CLOSING = re.compile(r"[\s.?!,;:\u2026]+$")  # the punctuation Whisper closes a transcript with
_CLOSING_TOKEN = re.compile(r"^(?!\.\.)[.?!]+[\"')\]]*\s*$")


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        a.input_tokens + b.input_tokens, a.output_tokens + b.output_tokens, a.cached_tokens + b.cached_tokens
    )


def _user_text(request: LLMRequest) -> str:
    """Everything the user said in the conversation: free-text call arguments must come from it."""
    return " ".join(m.content for m in request.messages if isinstance(m, LLMMessage) and m.role == "user")


def _not_a_call(text: str) -> bool:
    return looks_like_call(text) is False


def _tool_call(parsed: tuple[str, str]) -> ToolCall:
    return ToolCall(call_id=f"call_{secrets.token_hex(8)}", name=parsed[0], arguments=parsed[1])

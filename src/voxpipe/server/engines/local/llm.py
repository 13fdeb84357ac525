"""LLM with llama.cpp (``llama-cpp-python``) on Qwen2.5-Coder-0.5B-Instruct Q4_K_M, its 1.5B, or SmolLM2-135M.

One ``Llama`` per process, shared by all sessions through one worker thread: requests queue and never run
two at a time on two cores (which llama.cpp handles badly). Generation streams through
``stream_from_thread``: a stop flag is checked per token, so closing the stream frees the model within a
token (about 25-40 ms) once the prompt evaluation that is running, if any, ends.

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

Each prompt prefix the engine uses (system block and tools) keeps a saved llama.cpp state
(``_prefix_states``), so alternating prompts (routing and answer, tools shown and hidden) all find their
prefix cached; and after every call the evaluated conversation is kept too, so sessions taking turns at
the model each find their own words cached when they come back to it.

A request with a ``continuation`` (an answer that gave the model up to another answer's first words,
``voxpipe.server.scheduling``) renders the same prompt followed by the words already said and goes on
from them: the prompt cache still holds them unless another prompt ran in between, and then they cost a
prompt evaluation of those words.

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
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
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
from voxpipe.server.engines.local._busy import BusyEngines, ThreadChoice
from voxpipe.server.engines.local._errors import model_errors
from voxpipe.server.engines.local._prefix_states import PrefixStates, common_prefix, system_prefix_length
from voxpipe.server.engines.local._speech_first import SpeechFirst
from voxpipe.server.engines.local._threads import stream_from_thread
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
        kept_conversations: evaluated conversations kept after each call (``_prefix_states``), so that
            sessions taking turns at the model each find their own words cached; 0: none.
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
        kept_conversations: int = 8,
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
        self._threads_now = (n_threads, n_threads_batch)
        self.capabilities = LLMCapabilities(
            model=model, tool_calls=self._profile.tool_calls, context_tokens=n_ctx, resumable=True
        )
        self._llm: Any = None
        self._formatter: Any = None
        self._eos = ""
        self._grammars: dict[str, Any] = {}
        self._states = PrefixStates(conversations=kept_conversations)
        self._closing: Any = None  # token ids that close a sentence (``_closing_tokens``)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voxpipe-llama")

    def _load(self) -> Any:
        """Load the model (in the worker thread; the single worker makes this race-free)."""
        if self._llm is None:
            started = time.perf_counter()
            path = self._profile.path()
            with model_errors(f"loading {path.name}", recoverable=False):
                from llama_cpp import Llama, llama_chat_format

                llm = Llama(
                    model_path=str(path),
                    n_ctx=self._n_ctx,
                    n_threads=self._n_threads,
                    n_threads_batch=self._n_threads_batch,
                    verbose=False,
                )
                self._eos = llm._model.token_get_text(llm.token_eos())
                self._formatter = llama_chat_format.Jinja2ChatFormatter(
                    template=fix_template(
                        llm.metadata["tokenizer.chat_template"], self._profile.template_fixes
                    ),
                    eos_token=self._eos,
                    bos_token="",
                )
            self._llm = llm
            logger.info("loaded %s in %.2f s", path.name, time.perf_counter() - started)
        return self._llm

    def _fit_threads(self, llm: Any) -> None:
        """Before an evaluation: the idle threads when nothing else computes, else the usual ones
        (``_busy.ThreadChoice``)."""
        if self._threads is None:
            return
        wanted = self._threads.before_step()
        if wanted != self._threads_now:
            llm._ctx.set_n_threads(*wanted)
            self._threads_now = wanted

    async def warm_up(self) -> None:
        """Load the model and evaluate a few tokens, so the weights are paged in before a session waits."""
        await asyncio.wrap_future(self._executor.submit(self._prime))

    def _prime(self) -> None:
        started = time.perf_counter()
        llm = self._load()
        with model_errors("priming the LLM", recoverable=False):
            if self._prime_instructions is None:
                llm.eval(llm.tokenize(b"Hello", add_bos=False))
            else:
                request = LLMRequest(
                    self._prime_instructions, [LLMMessage("user", "Hello.")], max_output_tokens=1
                )
                for _piece in self._complete(
                    llm, request, tools=(), forced=None, temperature=0.0, stop=threading.Event()
                ):
                    pass
            self._closing_tokens(llm)  # for the first end-of-turn judgement: a pass over the vocabulary
        logger.info("primed the LLM in %.2f s", time.perf_counter() - started)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        self._states.clear()
        self._llm = None

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
        produce = partial(
            self._generate,
            routing,
            tools,
            None,
            0.0,
            until=_not_a_call,
            max_tokens=_ROUTING_MAX_TOKENS,
        )
        text = ""
        usage = Usage()
        async with contextlib.aclosing(stream_from_thread(self._executor, produce)) as pieces:
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
        return await asyncio.wrap_future(self._executor.submit(self._end_probability, judged, answer, tools))

    def _end_probability(
        self, judged: LLMRequest, answer: LLMRequest | None, tools: Sequence[FunctionTool]
    ) -> float:
        """In the worker thread: evaluate the prompt up to the user's words (``judged``: without their
        closing punctuation), read the probability that the next token closes the sentence; evaluate the
        rest of ``answer``'s prompt in the same decode when it goes on from those words."""
        llm = self._load()
        with model_errors("llama.cpp end-of-turn"):
            prefix = self._read_up_to_the_words(llm, judged, tools)
            if len(prefix) < 2:  # a chat prompt always has the system block before the words
                raise ValueError("the rendered prompt has no user message to judge")
            prompt = prefix if answer is None else self._prompt_tokens(llm, answer, tools)
            keep = min(common_prefix(llm.input_ids[: llm.n_tokens], prefix), len(prefix) - 1)
            llm.n_tokens = keep
            reads_on = len(prompt) > len(prefix) and common_prefix(prefix, prompt) == len(prefix)
            if reads_on and len(prompt) - keep <= llm.n_batch:
                read = _decode_reading(llm, prompt[keep:], len(prefix) - 1 - keep)
            else:  # no answer next, the punctuation changed how the words tokenize, or a very long turn
                llm.eval(prefix[keep:])
                read = llm._ctx.get_logits()
            logits = np.ctypeslib.as_array(read, shape=(llm.n_vocab(),)).astype(np.float64)
            closing = self._closing_tokens(llm)
            self._states.remember(llm)
        weights = np.exp(logits - logits.max())
        return float(weights[closing].sum() / weights.sum())

    async def prefill(self, request: LLMRequest) -> AsyncIterator[int]:
        """Evaluate the answer's prompt up to the end of the user's words (``LLMEngine.prefill``).

        ``_PREFILL_STEP`` tokens a step (about 0.25 s on one core), so that closing the stream frees the
        model soon: the words a user says in a second are about one step. The prompt is the one
        ``end_of_turn`` reads (a routed profile's answer has no tools), so the judgement, the
        speculation and the answer at the end of the turn all find these words cached.
        """
        last = request.messages[-1] if request.messages else None
        if not isinstance(last, LLMMessage) or last.role != "user" or not last.content.strip():
            return
        tools = self._answer_tools(request)
        produce = partial(self._prefill, request, tools)
        async with contextlib.aclosing(stream_from_thread(self._executor, produce)) as steps:
            async for cached in steps:
                yield cached

    def _prefill(
        self, request: LLMRequest, tools: Sequence[FunctionTool], stop: threading.Event
    ) -> Iterator[int]:
        """In the worker thread: evaluate what the cache lacks of the prompt up to the user's words."""
        llm = self._load()
        with model_errors("llama.cpp prefill"):
            prefix = self._read_up_to_the_words(llm, request, tools)
            if len(prefix) < 2:
                return
            done = common_prefix(llm.input_ids[: llm.n_tokens], prefix)
            llm.n_tokens = done  # eval() drops the cells past what is kept
            try:
                while done < len(prefix) and not stop.is_set():
                    self._fit_threads(llm)
                    llm.eval(prefix[done : done + _PREFILL_STEP])
                    done = llm.n_tokens
                    yield done
            finally:  # also when the stream is closed between steps: what was read stays kept
                self._states.remember(llm)

    def _answer_tools(self, request: LLMRequest) -> Sequence[FunctionTool]:
        """The tools of the prompt an answer to ``request`` renders (a routed profile answers without)."""
        return tools_in_play(request) if self._profile.tool_calls and not self._profile.routed else ()

    def _read_up_to_the_words(
        self, llm: Any, request: LLMRequest, tools: Sequence[FunctionTool]
    ) -> list[int]:
        """In the worker thread: the prompt of ``request`` up to the end of its last message (empty when it
        has none), with the context made to start with as much of it as is kept (``PrefixStates.prepare``)
        on the threads the machine allows now. What the context still lacks is for the caller to read."""
        tokens = self._prompt_tokens(llm, request, tools)
        marker = llm.token_eos()
        if marker not in tokens:
            return []
        prefix = tokens[: len(tokens) - 1 - tokens[::-1].index(marker)]  # the end of the last message
        if len(prefix) < 2:
            return prefix
        self._fit_threads(llm)
        self._states.prepare(llm, prefix, min(system_prefix_length(tokens), len(prefix) - 1))
        return prefix

    def _closing_tokens(self, llm: Any) -> Any:
        """Ids of the tokens that close a sentence (``.``, ``?``, ``!``, maybe with quotes and a line
        break; not ``..``, which trails off) and of the end-of-message marker; found once per model."""
        if self._closing is None:
            ids = [
                token
                for token in range(llm.n_vocab())
                if _CLOSING_TOKEN.match(llm.detokenize([token]).decode("utf-8", "ignore"))
            ]
            self._closing = np.array(sorted({*ids, llm.token_eos()}), dtype=np.int64)
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
        produce = partial(self._generate, request, tools, forced, temperature)
        deciding = bool(tools) and forced is None and not continuing
        calling = forced is not None
        text = ""
        usage = Usage()
        async with contextlib.aclosing(stream_from_thread(self._executor, produce)) as pieces:
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

    def _generate(
        self,
        request: LLMRequest,
        tools: Sequence[FunctionTool],
        forced: str | None,
        temperature: float,
        stop: threading.Event,
        *,
        until: Callable[[str], bool] | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[str | Usage]:
        """Run one completion in the worker thread, yielding text pieces then the ``Usage``."""
        llm = self._load()
        with model_errors("llama.cpp generation"):
            yield from self._complete(
                llm,
                request,
                tools=tools,
                forced=forced,
                temperature=temperature,
                stop=stop,
                until=until,
                max_tokens=max_tokens,
            )

    def _complete(
        self,
        llm: Any,
        request: LLMRequest,
        *,
        tools: Sequence[FunctionTool],
        forced: str | None,
        temperature: float,
        stop: threading.Event,
        until: Callable[[str], bool] | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[str | Usage]:
        """One completion; ``until(text so far)`` returning True ends it early (the routing pass)."""
        prompt = self._prompt_tokens(llm, request, tools)
        tokens = prompt
        if request.continuation:  # the words said before the answer gave the model up
            tokens = prompt + llm.tokenize(request.continuation.encode("utf-8"), add_bos=False, special=False)
        self._fit_threads(llm)  # for the prompt's evaluation
        cached = self._states.prepare(llm, tokens, system_prefix_length(tokens))
        budget = self._n_ctx - len(tokens)
        max_tokens = max(1, min(max_tokens or request.max_output_tokens or self._max_output_tokens, budget))
        grammar = self._grammar(tools, forced) if forced else None
        started = time.perf_counter()
        completion = llm.create_completion(
            tokens,
            stream=True,
            temperature=temperature,
            max_tokens=max_tokens,
            stop=[self._eos],
            repeat_penalty=1.0,
            grammar=grammar,
        )
        finished = False
        so_far = ""
        try:
            for index, chunk in enumerate(completion):
                if index and self._threads is not None:
                    self._threads.token_done()  # the first chunk came after the whole prompt
                if stop.is_set():
                    break
                text = chunk["choices"][0]["text"]
                if text:
                    yield text
                finished = chunk["choices"][0]["finish_reason"] is not None
                if until is not None:
                    so_far += text
                    if until(so_far):
                        break
                if self._speech_first is not None:  # before the next token is computed
                    head_word = index < _HEAD_TOKENS and text[:1].isspace()  # may end the first piece
                    self._speech_first.wait_for_speech(_EXPECT_SPEECH_S if head_word else 0.0)
                self._fit_threads(llm)
        finally:
            completion.close()
            self._states.remember(llm)  # the prompt and the words said: found again after a hand-over
        # every sampled token but the last is evaluated into the context; count the last one too
        produced = min(max(llm.n_tokens - len(tokens), 0) + int(finished), max_tokens)
        logger.debug(
            "llm: %d prompt tokens (%d cached), %d generated in %.2f s",
            len(tokens),
            cached,
            produced,
            time.perf_counter() - started,
        )
        yield Usage(input_tokens=len(prompt), output_tokens=produced, cached_tokens=min(cached, len(prompt)))

    def _prompt_tokens(self, llm: Any, request: LLMRequest, tools: Sequence[FunctionTool]) -> list[int]:
        """Render and tokenize, leaving out the oldest messages until the prompt and an answer fit."""
        reserve = min(request.max_output_tokens or self._max_output_tokens, self._n_ctx // 4)
        for skip in range(len(request.messages) + 1):
            messages, tool_dicts = render_inputs(request, tools, skip)
            prompt = self._formatter(messages=messages, tools=tool_dicts).prompt
            tokens: list[int] = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
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

    def _grammar(self, tools: Sequence[FunctionTool], forced: str) -> Any:
        from llama_cpp import LlamaGrammar

        schema = json.dumps(call_schema(tools, forced), sort_keys=True)
        if schema not in self._grammars:
            self._grammars[schema] = LlamaGrammar.from_json_schema(schema, verbose=False)
        return self._grammars[schema]


_PREFILL_STEP = 8

_HEAD_TOKENS = 8
"""An answer's first tokens, in which its first piece (two to four words) is cut and handed to Piper."""
_EXPECT_SPEECH_S = 0.005
"""How long the LLM gives a piece its word may have completed to reach Piper (``SpeechFirst``)."""


def _decode_reading(llm: Any, tokens: Sequence[int], at: int) -> Any:
    """Evaluate ``tokens`` after the ``llm.n_tokens`` kept in the context, in one decode (as ``Llama.eval``
    does, within one batch), keeping the logits of ``tokens[at]`` as well as the last token's (which the
    next ``create_completion`` of exactly this prompt samples from). Returns the former (valid until the
    next decode)."""
    n_past = llm.n_tokens
    llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
    batch = llm._batch
    batch.set_batch(batch=tokens, n_past=n_past, logits_all=False)
    batch.batch.logits[at] = True
    llm._ctx.decode(batch)
    llm.input_ids[n_past : n_past + len(tokens)] = tokens
    llm.n_tokens = n_past + len(tokens)
    llm._requires_eval = False  # the last token's logits come from this decode: sampling may use them
    return llm._ctx.get_logits_ith(at)


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

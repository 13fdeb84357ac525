"""Saved llama.cpp states of prompts, so that several prompts stay cached in one context.

llama.cpp reuses the evaluation of the tokens a new prompt shares with the previous one. One engine that
alternates between two prompts (a tool-routing pass with a plain system prompt, then the spoken answer with
the voice prompt) would lose that on every pass: each prompt evicts the other's system block, and the first
token costs the whole prefix again (about 0.5 s at 1.5B on 2 cores). So the key-value cache of each prefix
(system prompt and tools block, up to the first message) is copied out once (``llama_state_seq_get_data``,
about 28 KB a token at 1.5B: a few MB) and copied back before a prompt that starts with it, which takes
milliseconds.

Sessions share the model the same way: with three sessions talking at once, each hand-over of the LLM to
another session evicted the conversation of the one before, so a session coming back (its answer after
its words were read ahead, the rest of an answer that gave the model up, its next turn) evaluated all of
its own words again: at 3 sessions only 36 of 48 prompt tokens were cached (the system block), and an
answer's first token came about 0.4 s after its call against 0.16 s for one session. So after every
call the engine also keeps the whole evaluated context (``remember``: the conversation so far, about
12 KB a token at 0.5B), and a prompt that shares more tokens with a kept conversation than with the live
context gets that conversation back first. A kept conversation that a newer one extends (the same
session, further on) is dropped; at most ``conversations`` are kept and ``conversation_bytes`` in all,
the least recently used dropped first.

Every call runs in the engine's worker thread, like every other use of the model.
"""

from __future__ import annotations

import ctypes
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

__all__ = ["PrefixStates", "common_prefix", "system_prefix_length"]

logger = logging.getLogger(__name__)


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def system_prefix_length(tokens: Sequence[int]) -> int:
    """Tokens before the second message of a ChatML prompt (the system block, tools included).

    ChatML prompts start every message with the same special token (``<|im_start|>``), the first token of
    the prompt; the stable prefix ends where it occurs again. 0 when there is no second message.
    """
    if not tokens:
        return 0
    start = tokens[0]
    for index in range(1, len(tokens)):
        if tokens[index] == start:
            return index
    return 0


class PrefixStates:
    """The key-value caches of a few prompt prefixes and conversations, copied out of and back into
    sequence 0.

    Args:
        capacity: prefixes kept; each costs its tokens' share of the KV cache in memory.
        conversations: whole conversations kept (``remember``), at most.
        conversation_bytes: their states' size in all, at most.
    """

    def __init__(self, capacity: int = 4, conversations: int = 8, conversation_bytes: int = 32 << 20) -> None:
        self._capacity = capacity
        self._saved: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self._conversations: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self._conversation_capacity = conversations
        self._conversation_bytes = conversation_bytes

    def __len__(self) -> int:
        return len(self._saved)

    @property
    def conversations(self) -> int:
        """Conversations kept now."""
        return len(self._conversations)

    def clear(self) -> None:
        self._saved.clear()
        self._conversations.clear()

    def prepare(self, llm: Any, tokens: Sequence[int], prefix_length: int) -> int:
        """Make ``llm``'s context start with as much of ``tokens`` as is kept evaluated, at least
        ``tokens[:prefix_length]``; returns tokens reused.

        After this, ``llm.create_completion(tokens)`` evaluates only what follows (at least the last token,
        so that the logits it samples from are fresh).
        """
        current = common_prefix(llm.input_ids[: llm.n_tokens], tokens)
        conversation, shared = self._best_conversation(tokens)
        shared = min(shared, len(tokens) - 1)
        if conversation is not None and shared > current and shared >= prefix_length:
            if self._restore(llm, conversation, self._conversations[conversation], self._conversations):
                self._conversations.move_to_end(conversation)
                llm._ctx.kv_cache_seq_rm(0, shared, -1)
                llm.n_tokens = shared
                return shared
            current = 0  # the failed load cleared the context
        if prefix_length <= 0:
            return current
        prefix = tuple(tokens[:prefix_length])
        if current >= prefix_length:
            if prefix not in self._saved:
                self._save(llm, prefix)  # evaluated by the last pass: keep it from now on
                return prefix_length
            self._saved.move_to_end(prefix)
            return current
        state = self._saved.get(prefix)
        if state is not None:
            if self._restore(llm, prefix, state, self._saved):
                self._saved.move_to_end(prefix)
                return prefix_length
            current = 0  # the failed load cleared the context
        llm.n_tokens = current  # eval() drops the cells past what is kept
        llm.eval(list(prefix[current:]))
        self._save(llm, prefix)
        return current

    def remember(self, llm: Any) -> None:
        """Keep the context as it is now (every token evaluated so far) as a conversation, after a call."""
        if not self._conversation_capacity or llm.n_tokens < 2:
            return
        key = tuple(int(token) for token in llm.input_ids[: llm.n_tokens])
        for kept in list(self._conversations):
            if len(kept) >= len(key) and kept[: len(key)] == key:
                self._conversations.move_to_end(kept)  # a longer one holds all of this already
                return
            if kept == key[: len(kept)]:
                del self._conversations[kept]  # the same conversation, further on now
        state = self._copy_out(llm, key)
        if len(state) > self._conversation_bytes:
            return
        self._conversations[key] = state
        total = sum(len(kept) for kept in self._conversations.values())
        while len(self._conversations) > self._conversation_capacity or total > self._conversation_bytes:
            _, dropped = self._conversations.popitem(last=False)
            total -= len(dropped)

    def _best_conversation(self, tokens: Sequence[int]) -> tuple[tuple[int, ...] | None, int]:
        """The kept conversation sharing the most leading tokens with ``tokens``, and how many."""
        best: tuple[int, ...] | None = None
        shared = 0
        for kept in self._conversations:
            n = common_prefix(kept, tokens)
            if n > shared:
                best, shared = kept, n
        return best, shared

    def _copy_out(self, llm: Any, tokens: tuple[int, ...]) -> bytes:
        """The state of sequence 0 holding exactly ``tokens`` (the cells past them are dropped)."""
        import llama_cpp

        ctx = llm._ctx.ctx
        llm._ctx.kv_cache_seq_rm(0, len(tokens), -1)
        llm.n_tokens = len(tokens)
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
        return ctypes.string_at(buffer, written)

    def _save(self, llm: Any, prefix: tuple[int, ...]) -> None:
        self._saved[prefix] = state = self._copy_out(llm, prefix)
        while len(self._saved) > self._capacity:
            self._saved.popitem(last=False)
        logger.debug("llm: saved the state of a %d-token prefix (%d bytes)", len(prefix), len(state))

    def _restore(
        self, llm: Any, tokens: tuple[int, ...], state: bytes, store: OrderedDict[tuple[int, ...], bytes]
    ) -> bool:
        """Load ``state`` (of ``tokens``) into sequence 0; on failure forget it from ``store``."""
        import llama_cpp

        llm._ctx.kv_cache_seq_rm(0, -1, -1)
        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if not llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, buffer, len(state), 0):
            logger.warning("llm: a saved state did not load; evaluating its tokens again")
            del store[tokens]
            llm.n_tokens = 0
            return False
        llm.input_ids[: len(tokens)] = tokens
        llm.n_tokens = len(tokens)
        return True

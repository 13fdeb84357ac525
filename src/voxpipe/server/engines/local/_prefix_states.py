"""Saved llama.cpp states of prompt prefixes, so that several prompts stay cached in one context.

llama.cpp reuses the evaluation of the tokens a new prompt shares with the previous one. One engine that
alternates between two prompts (a tool-routing pass with a plain system prompt, then the spoken answer with
the voice prompt) would lose that on every pass: each prompt evicts the other's system block, and the first
token costs the whole prefix again (about 0.5 s at 1.5B on 2 cores). So the key-value cache of each prefix
(system prompt and tools block, up to the first message) is copied out once (``llama_state_seq_get_data``,
about 28 KB a token at 1.5B: a few MB) and copied back before a prompt that starts with it, which takes
milliseconds.

At most ``capacity`` prefixes are kept, the least recently used dropped first. Every call runs in the
engine's worker thread, like every other use of the model.
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
    """The key-value caches of a few prompt prefixes, copied out of and back into sequence 0.

    Args:
        capacity: prefixes kept; each costs its tokens' share of the KV cache in memory.
    """

    def __init__(self, capacity: int = 4) -> None:
        self._capacity = capacity
        self._saved: OrderedDict[tuple[int, ...], bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._saved)

    def clear(self) -> None:
        self._saved.clear()

    def prepare(self, llm: Any, tokens: Sequence[int], prefix_length: int) -> int:
        """Make ``llm``'s context start with ``tokens[:prefix_length]`` evaluated; returns tokens reused.

        After this, ``llm.create_completion(tokens)`` evaluates only what follows the prefix (or more of the
        prompt, when the context already held more of it).
        """
        current = common_prefix(llm.input_ids[: llm.n_tokens], tokens)
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
            if self._restore(llm, prefix, state):
                self._saved.move_to_end(prefix)
                return prefix_length
            current = 0  # the failed load cleared the context
        llm.n_tokens = current  # eval() drops the cells past what is kept
        llm.eval(list(prefix[current:]))
        self._save(llm, prefix)
        return current

    def _save(self, llm: Any, prefix: tuple[int, ...]) -> None:
        import llama_cpp

        ctx = llm._ctx.ctx
        llm._ctx.kv_cache_seq_rm(0, len(prefix), -1)  # keep exactly the prefix in what is saved
        llm.n_tokens = len(prefix)
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
        self._saved[prefix] = bytes(buffer[:written])
        while len(self._saved) > self._capacity:
            self._saved.popitem(last=False)
        logger.debug("llm: saved the state of a %d-token prefix (%d bytes)", len(prefix), written)

    def _restore(self, llm: Any, prefix: tuple[int, ...], state: bytes) -> bool:
        import llama_cpp

        llm._ctx.kv_cache_seq_rm(0, -1, -1)
        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if not llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, buffer, len(state), 0):
            logger.warning("llm: a saved prefix state did not load; evaluating the prefix again")
            del self._saved[prefix]
            llm.n_tokens = 0
            return False
        llm.input_ids[: len(prefix)] = prefix
        llm.n_tokens = len(prefix)
        return True

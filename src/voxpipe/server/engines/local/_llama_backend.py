"""The llama.cpp side of ``_batch_decoder``: a context of several sequences, its batch, its samplers.

The context shares one key-value cache between its sequences (``kv_unified``): a sequence may hold up to
the whole cache, and a prefix shared into another sequence (``llama_memory_seq_cp``) shares its cells,
so the system block every session's prompt starts with is evaluated and stored once.

Sampling follows what ``llama_cpp.Llama`` does for its completions (top-k 40, top-p 0.95, min-p 0.05,
then the temperature; greedy at 0; a grammar first when there is one), applied with llama.cpp's own
sampler chain to logits the decoder hands over (``llama_sampler_apply`` on a token array), so a first token
can be sampled from logits a judgement kept as well as from a decode's.
"""

from __future__ import annotations

import ctypes
import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from voxpipe.server.engines.local._batch_decoder import Logits, Sampling

__all__ = ["LlamaBackend", "LlamaSampler"]

_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


class LlamaBackend:
    """A llama.cpp context of ``sequences`` sequences over a loaded model (``llama_cpp._internals``).

    Args:
        model: the ``LlamaModel``.
        cache_tokens: cells of the shared key-value cache (all sequences together).
        sequences: sequences of the context.
        n_batch: tokens a decode takes at most.
        n_threads / n_threads_batch: llama.cpp's threads for a token and for a prompt.
    """

    def __init__(
        self,
        model: Any,
        *,
        cache_tokens: int,
        sequences: int,
        n_batch: int = 512,
        n_threads: int = 1,
        n_threads_batch: int = 1,
    ) -> None:
        import llama_cpp
        from llama_cpp import _internals

        self._llama_cpp = llama_cpp
        self._model = model
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = cache_tokens
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = sequences
        params.kv_unified = True
        params.n_threads = n_threads
        params.n_threads_batch = n_threads_batch
        self._context = _internals.LlamaContext(model=model, params=params, verbose=False)
        self._batch = _internals.LlamaBatch(n_tokens=n_batch, embd=0, n_seq_max=sequences, verbose=False)
        self._memory = llama_cpp.llama_get_memory(self._context.ctx)
        self._threads = (n_threads, n_threads_batch)
        self.n_batch = n_batch
        self.n_vocab = model.n_vocab()
        self._piece = ctypes.create_string_buffer(64)

    def set_threads(self, n_threads: int, n_threads_batch: int) -> None:
        if (n_threads, n_threads_batch) != self._threads:
            self._context.set_n_threads(n_threads, n_threads_batch)
            self._threads = (n_threads, n_threads_batch)

    def decode(
        self, tokens: Sequence[int], positions: Sequence[int], seqs: Sequence[int], logits: Sequence[bool]
    ) -> int:
        if len(tokens) > self.n_batch:
            raise ValueError(f"a decode of {len(tokens)} tokens is more than the batch's {self.n_batch}")
        batch = self._batch.batch
        batch.n_tokens = len(tokens)
        for index, (token, position, seq, wants) in enumerate(
            zip(tokens, positions, seqs, logits, strict=True)
        ):
            batch.token[index] = token
            batch.pos[index] = position
            batch.n_seq_id[index] = 1
            batch.seq_id[index][0] = seq
            batch.logits[index] = wants
        code = int(self._llama_cpp.llama_decode(self._context.ctx, batch))
        if code not in (0, 1):
            raise RuntimeError(f"llama_decode returned {code}")
        return code

    def logits(self, index: int) -> Logits:
        row = self._llama_cpp.llama_get_logits_ith(self._context.ctx, index)
        return np.ctypeslib.as_array(row, shape=(self.n_vocab,)).copy()

    def remove(self, seq: int, start: int) -> None:
        self._llama_cpp.llama_memory_seq_rm(self._memory, seq, start, -1)

    def share(self, source: int, target: int, end: int) -> None:
        self._llama_cpp.llama_memory_seq_cp(self._memory, source, target, 0, end)

    def sampler(self, sampling: Sampling) -> LlamaSampler:
        return LlamaSampler(self._model, self.n_vocab, sampling)

    def is_end(self, token: int) -> bool:
        return bool(self._llama_cpp.llama_vocab_is_eog(self._model.vocab, token))

    def piece(self, token: int) -> bytes:
        size = self._llama_cpp.llama_token_to_piece(
            self._model.vocab, token, self._piece, len(self._piece), 0, False
        )
        if size < 0:  # longer than the buffer (never for this project's models): make room
            self._piece = ctypes.create_string_buffer(-size)
            size = self._llama_cpp.llama_token_to_piece(
                self._model.vocab, token, self._piece, -size, 0, False
            )
        return self._piece.raw[:size]

    def close(self) -> None:
        self._batch.close()
        self._context.close()


class LlamaSampler:
    """llama.cpp's sampler chain for one generation, applied to logits given as an array."""

    def __init__(self, model: Any, n_vocab: int, sampling: Sampling) -> None:
        import llama_cpp

        self._llama_cpp = llama_cpp
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        parts = []
        if sampling.grammar is not None:
            grammar = llama_cpp.llama_sampler_init_grammar(
                model.vocab, sampling.grammar.encode("utf-8"), b"root"
            )
            if not grammar:
                llama_cpp.llama_sampler_free(chain)
                raise ValueError("llama.cpp did not accept the grammar")
            parts.append(grammar)
        if sampling.temperature <= 0:
            parts.append(llama_cpp.llama_sampler_init_greedy())
        else:
            parts += [
                llama_cpp.llama_sampler_init_top_k(40),
                llama_cpp.llama_sampler_init_top_p(0.95, 1),
                llama_cpp.llama_sampler_init_min_p(0.05, 1),
                llama_cpp.llama_sampler_init_temp(sampling.temperature),
                llama_cpp.llama_sampler_init_dist(random.getrandbits(32)),
            ]
        for part in parts:
            llama_cpp.llama_sampler_chain_add(chain, part)  # the chain owns them from here
        self._chain: Any = chain
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._data = np.zeros(n_vocab, dtype=_TOKEN_DATA)

    def sample(self, logits: Logits) -> int:
        llama_cpp = self._llama_cpp
        data = self._data
        data["id"] = self._ids  # the samplers reorder the array in place
        data["logit"] = logits
        data["p"] = 0.0
        array = llama_cpp.llama_token_data_array(
            data=data.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data)),
            size=len(data),
            selected=-1,
            sorted=False,
        )
        llama_cpp.llama_sampler_apply(self._chain, ctypes.byref(array))
        if not 0 <= array.selected < array.size:
            raise RuntimeError("llama.cpp's sampler selected no token")
        token = int(array.data[array.selected].id)  # (a sampler may have moved the array)
        llama_cpp.llama_sampler_accept(self._chain, token)
        return token

    def close(self) -> None:
        if self._chain is not None:
            self._llama_cpp.llama_sampler_free(self._chain)
            self._chain = None

"""Saved prefix states: two prompts alternating both stay cached (a fake context stands in for llama.cpp)."""

from __future__ import annotations

import ctypes
import sys
import types
from typing import Any

import numpy as np
import pytest

from voxpipe.server.engines.local._prefix_states import PrefixStates, common_prefix, system_prefix_length

START = 1  # <|im_start|>


class FakeContext:
    """The key-value cache of sequence 0 as the list of tokens it holds, and what was evaluated."""

    def __init__(self) -> None:
        self.ctx = self
        self.cells: list[int] = []

    def kv_cache_seq_rm(self, seq_id: int, p0: int, p1: int) -> bool:
        assert seq_id == 0 and p1 == -1
        del self.cells[max(p0, 0) :]
        return True


class FakeLlama:
    """Just what ``PrefixStates`` and llama-cpp-python's prefix reuse touch."""

    def __init__(self) -> None:
        self._ctx = FakeContext()
        self.input_ids = np.zeros(256, dtype=np.intc)
        self.n_tokens = 0
        self.evaluated: list[int] = []

    def eval(self, tokens: list[int]) -> None:
        self._ctx.kv_cache_seq_rm(0, self.n_tokens, -1)
        self.evaluated += tokens
        self._ctx.cells += tokens
        self.input_ids[self.n_tokens : self.n_tokens + len(tokens)] = tokens
        self.n_tokens += len(tokens)

    def complete(self, tokens: list[int]) -> None:
        """What ``create_completion`` does with the prompt: reuse the common prefix, evaluate the rest."""
        keep = common_prefix(self.input_ids[: self.n_tokens], tokens[:-1])
        self.n_tokens = keep
        self.eval(tokens[keep:])


@pytest.fixture(autouse=True)
def fake_state_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    def get_size(ctx: FakeContext, seq: int) -> int:
        return 4 * len(ctx.cells)

    def get_data(ctx: FakeContext, buffer: Any, size: int, seq: int) -> int:
        data = np.array(ctx.cells, dtype="<i4").tobytes()
        ctypes.memmove(buffer, data, len(data))
        return len(data)

    def set_data(ctx: FakeContext, buffer: Any, size: int, seq: int) -> int:
        assert ctx.cells == []  # cleared first
        ctx.cells = np.frombuffer(bytes(buffer), dtype="<i4").tolist()
        return size

    module = types.SimpleNamespace(
        llama_state_seq_get_size=get_size,
        llama_state_seq_get_data=get_data,
        llama_state_seq_set_data=set_data,
    )
    monkeypatch.setitem(sys.modules, "llama_cpp", module)


def prompt(system: list[int], user: list[int]) -> list[int]:
    return [START, *system, START, *user, START]


def test_system_prefix_ends_at_the_second_message() -> None:
    assert system_prefix_length(prompt([7, 8, 9], [5])) == 4
    assert system_prefix_length([START, 7, 8]) == 0
    assert system_prefix_length([]) == 0


def test_alternating_prompts_each_evaluate_their_prefix_once() -> None:
    llm, states = FakeLlama(), PrefixStates()
    routing = prompt(list(range(100, 140)), [5, 6])
    answer = prompt(list(range(200, 260)), [5, 6])
    for tokens in (routing, answer):  # first time: everything is evaluated, the prefix saved
        states.prepare(llm, tokens, system_prefix_length(tokens))
        llm.complete(tokens)
    assert len(states) == 2
    llm.evaluated.clear()
    for turn in range(3):
        user = [7 + turn, 8]
        for system in (range(100, 140), range(200, 260)):
            tokens = prompt(list(system), user)
            reused = states.prepare(llm, tokens, system_prefix_length(tokens))
            assert reused == len(system) + 1
            llm.complete(tokens)
            assert llm._ctx.cells == tokens  # the context holds exactly this prompt
    assert len(llm.evaluated) == 6 * 4  # per pass only the user's message: START, two words, START


def test_capacity_drops_the_least_recently_used() -> None:
    llm, states = FakeLlama(), PrefixStates(capacity=2)
    prompts = [prompt([10 * k + 1, 10 * k + 2], [5]) for k in range(1, 4)]
    for tokens in (prompts[0], prompts[1], prompts[0], prompts[2]):
        states.prepare(llm, tokens, system_prefix_length(tokens))
        llm.complete(tokens)
    llm.evaluated.clear()
    assert states.prepare(llm, prompts[0], 3) == 3  # kept (used recently)
    assert states.prepare(llm, prompts[1], 3) == 1  # dropped: evaluated again (but the shared START)
    assert llm.evaluated == prompts[1][1:3]


def test_a_state_that_does_not_load_is_evaluated_again(monkeypatch: pytest.MonkeyPatch) -> None:
    llm, states = FakeLlama(), PrefixStates()
    one, two = prompt([11, 12], [5]), prompt([21, 22], [5])
    for tokens in (one, two):
        states.prepare(llm, tokens, 3)
        llm.complete(tokens)
    monkeypatch.setattr(sys.modules["llama_cpp"], "llama_state_seq_set_data", lambda *args: 0)
    llm.evaluated.clear()
    assert states.prepare(llm, one, 3) == 0
    assert llm.evaluated == one[:3] and llm._ctx.cells == one[:3]

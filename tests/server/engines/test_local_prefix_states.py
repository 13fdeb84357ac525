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


def answer(llm: FakeLlama, states: PrefixStates, tokens: list[int], words: list[int]) -> int:
    """One call as the engine makes it: prepare, evaluate the prompt, generate ``words``, remember."""
    reused = states.prepare(llm, tokens, system_prefix_length(tokens))
    llm.complete(tokens)
    llm.eval(words[:-1])  # every generated token but the last is evaluated into the context
    states.remember(llm)
    return reused


def test_sessions_taking_turns_each_find_their_conversation_cached() -> None:
    llm, states = FakeLlama(), PrefixStates()
    system = list(range(100, 140))
    one, two = prompt(system, [5, 6, 7, 8]), prompt(system, [9, 10, 11])
    answer(llm, states, one, [50, 51, 52])
    answer(llm, states, two, [60, 61])
    llm.evaluated.clear()
    assert states.prepare(llm, one, system_prefix_length(one)) == len(one) - 1  # all but the last token
    llm.complete(one)
    assert llm.evaluated == one[-1:] and llm._ctx.cells == one
    # the answer went on from the words it said (a continuation): those are cached too
    resumed = [*one, 50, 51]
    llm.evaluated.clear()
    assert states.prepare(llm, resumed, system_prefix_length(resumed)) == len(resumed) - 1
    llm.complete(resumed)
    assert llm.evaluated == [51] and llm._ctx.cells == resumed
    llm.evaluated.clear()
    assert answer(llm, states, two, [60]) == len(two) - 1  # and the other session's, after that
    assert llm.evaluated == two[-1:]


def test_a_conversation_further_on_replaces_the_kept_one() -> None:
    llm, states = FakeLlama(), PrefixStates()
    first = prompt(list(range(100, 110)), [5, 6])
    answer(llm, states, first, [50, 51, 52])
    assert states.conversations == 1
    next_turn = [*first, 50, 51, 52, START, 7, 8, START]
    answer(llm, states, next_turn, [70, 71])
    assert states.conversations == 1  # the first turn's state is part of the second's
    other = prompt(list(range(100, 110)), [8, 9])
    answer(llm, states, other, [60])  # another session meanwhile
    llm.evaluated.clear()
    assert states.prepare(llm, first, system_prefix_length(first)) == len(first) - 1
    llm.complete(first)
    assert llm.evaluated == first[-1:]


def test_the_live_context_is_kept_when_it_holds_more_than_any_saved_state() -> None:
    llm, states = FakeLlama(), PrefixStates()
    one = prompt(list(range(100, 110)), [5, 6])
    answer(llm, states, one, [50, 51, 52])
    states.remember(llm)  # the same context again: nothing new to keep
    assert states.conversations == 1
    longer = [*one, 50, 51, 53]
    llm.evaluated.clear()
    assert states.prepare(llm, longer, system_prefix_length(longer)) == len(one) + 2
    llm.complete(longer)
    assert llm.evaluated == [53]


def test_conversations_are_bounded_in_number_and_bytes() -> None:
    system = list(range(100, 110))
    prompts = [prompt(system, [10 * k + 1, 10 * k + 2, 10 * k + 3]) for k in range(1, 5)]
    llm, states = FakeLlama(), PrefixStates(conversations=2)
    for tokens in prompts:
        answer(llm, states, tokens, [50])
    assert states.conversations == 2
    llm.evaluated.clear()
    # dropped: only what all the prompts share is cached (the live context holds it)
    assert states.prepare(llm, prompts[0], system_prefix_length(prompts[0])) == len(system) + 2
    size = 4 * len(prompts[0])  # the fake state: 4 bytes a token
    llm, states = FakeLlama(), PrefixStates(conversation_bytes=2 * size)
    for tokens in prompts:
        answer(llm, states, tokens, [50])
    assert states.conversations == 2
    llm, states = FakeLlama(), PrefixStates(conversation_bytes=size - 1)
    answer(llm, states, prompts[0], [50])
    assert states.conversations == 0  # larger than the whole budget: not kept


def test_a_conversation_that_does_not_load_is_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    llm, states = FakeLlama(), PrefixStates()
    system = list(range(100, 110))
    one, two = prompt(system, [5, 6, 7]), prompt(system, [8, 9])
    answer(llm, states, one, [50])
    answer(llm, states, two, [60])
    monkeypatch.setattr(sys.modules["llama_cpp"], "llama_state_seq_set_data", lambda *args: 0)
    llm.evaluated.clear()
    assert states.prepare(llm, one, system_prefix_length(one)) == 0
    assert states.conversations == 1
    assert llm.evaluated == one[: len(system) + 1]  # the prefix, whose saved state did not load either

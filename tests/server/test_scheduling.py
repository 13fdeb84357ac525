"""Fair sharing of the models: the gate hands a free slot to the best priority, then the earliest
deadline, then the oldest waiter; promotion while waiting counts; cancelling a waiter gives its place up;
with the test engines under a ``FairShare``, a second session's first piece is spoken before the first
session's long tail; a tail whose listener runs short of audio is placed as a head (it goes before a
speculation and before comfortable tails, and keeps the LLM when another head asks until its listener has
plenty); a speculation's head holds Whisper's background passes back, but no tail."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from voxpipe.server import LocalRealtimeServer, ServerConfig
from voxpipe.server.connection.playback import SECONDS_PER_CHAR, Playback
from voxpipe.server.connection.response_source import EngineSource
from voxpipe.server.engines.base import LLMEngine
from voxpipe.server.engines.registry import Engines
from voxpipe.server.engines.testing import ToneTTSEngine, load_engines
from voxpipe.server.engines.types import LLMChunk, LLMMessage, LLMRequest, TextDelta, Usage
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
            ("judge", Priority.JUDGE),
        ]:
            group.create_task(waiter(name, priority))
        await asyncio.sleep(0)
        assert gate.waiting == 6
        release.set()
    assert order == ["judge", "head1", "head2", "spec", "tail1", "tail2"]
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


async def test_within_a_priority_the_earliest_deadline_goes_first() -> None:
    gate = PriorityGate("test")
    order: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.hold(lambda: Priority.HEAD):
            await release.wait()

    async def waiter(name: str, priority: Priority, deadline: float | None) -> None:
        async with gate.hold(lambda: priority, None if deadline is None else lambda: deadline):
            order.append(name)

    async with asyncio.TaskGroup() as group:
        group.create_task(holder())
        await asyncio.sleep(0)
        for name, priority, deadline in [
            ("head asked now", Priority.HEAD, None),  # its deadline: when it started waiting
            ("due later", Priority.HEAD, 3.0),
            ("tail due first", Priority.TAIL, 0.0),  # a worse priority, whatever its deadline
            ("due first", Priority.HEAD, 1.0),
            ("due second", Priority.HEAD, 2.0),
        ]:
            group.create_task(waiter(name, priority, deadline))
        await asyncio.sleep(0)
        release.set()
    # time.monotonic() of the waiter without a deadline is far past 3.0
    assert order == ["due first", "due second", "due later", "head asked now", "tail due first"]


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

    async def end_of_turn(self, request: LLMRequest, *, answer_next: bool = True) -> float | None:
        async with self._worker:
            last = request.messages[-1]
            self.log.append(("judge", last.content if isinstance(last, LLMMessage) else ""))
            return await self._inner.end_of_turn(request, answer_next=answer_next)


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


def shared_llm(fair_share: FairShare | None, log: list[tuple[str, str]]) -> Engines:
    """The test engines with one LLM worker (as llama.cpp's) behind ``fair_share``."""
    base = load_engines(token_delay_s=0.005, story_words=60)
    return Engines(
        vad=base.vad, stt=base.stt, llm=RecordingLLM(base.llm, log), tts=base.tts, fair_share=fair_share
    )


def question(text: str) -> LLMRequest:
    return LLMRequest(messages=(LLMMessage("user", text),))


async def answer(source: EngineSource, text: str, heard: list[tuple[str, str]]) -> Usage:
    """Stream ``text``'s answer from ``source``, noting each delta as (question, delta)."""
    usage = Usage()
    async for chunk in source.llm_stream(question(text)):
        if isinstance(chunk, TextDelta):
            heard.append((text, chunk.text))
        elif isinstance(chunk, Usage):
            usage = chunk
    return usage


async def a_head_during_a_long_answer(
    fair_share: FairShare, *, long_one_speculative: bool
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], Usage]:
    """A long answer (confirmed, or a speculation) holds the LLM when another session's answer asks for
    it; returns the deltas in the order they came, the LLM log and the long answer's usage."""
    log: list[tuple[str, str]] = []
    engines = shared_llm(fair_share, log)
    heard: list[tuple[str, str]] = []
    long_source = EngineSource(engines, fair_share, speculative=long_one_speculative)
    async with asyncio.TaskGroup() as group:
        long_one = group.create_task(answer(long_source, "tell me a long story", heard))
        limit = 2 if long_one_speculative else 12  # a guess is overtaken at once, an answer after its head
        while len(heard) < limit:
            await asyncio.sleep(0.001)
        group.create_task(answer(EngineSource(engines, fair_share), "hello", heard))
    return heard, log, long_one.result()


def story_text(heard: list[tuple[str, str]]) -> str:
    return "".join(delta for asked, delta in heard if asked == "tell me a long story")


STORY_60 = " ".join(f"word{i}" for i in range(1, 61)) + "."


@pytest.mark.parametrize("speculative", [False, True])
async def test_a_long_generation_gives_the_llm_up_to_another_answers_head(speculative: bool) -> None:
    heard, log, usage = await a_head_during_a_long_answer(FairShare(), long_one_speculative=speculative)
    first_hello = heard.index(("hello", "You"))
    last_story = max(i for i, (asked, _) in enumerate(heard) if asked != "hello")
    assert first_hello < last_story  # the short answer's words came while the story was still going
    assert [kind for kind, text in log] == ["llm", "llm", "llm"]  # story, hello, the story resumed
    assert story_text(heard) == STORY_60  # resumed exactly where it left off: nothing lost or repeated
    assert usage.output_tokens == 60  # both passes counted once


async def test_without_preemption_the_long_answer_holds_the_llm_to_its_end() -> None:
    heard, log, usage = await a_head_during_a_long_answer(
        FairShare(preempt=False), long_one_speculative=False
    )
    first_hello = heard.index(("hello", "You"))
    assert all(asked != "hello" for asked, _ in heard[:first_hello]) and first_hello == 60
    assert story_text(heard) == STORY_60 and usage.output_tokens == 60
    assert len(log) == 2


async def test_a_continuation_goes_on_after_the_words_said() -> None:
    llm = load_engines(story_words=5).llm
    request = question("a long story")
    full = [c.text async for c in llm.stream(request) if isinstance(c, TextDelta)]
    resumed = llm.stream(dataclasses.replace(request, continuation="".join(full[:2])))
    chunks = [c async for c in resumed]
    assert [c.text for c in chunks if isinstance(c, TextDelta)] == full[2:]
    assert chunks[-1] == Usage(input_tokens=3, output_tokens=3)


async def a_judgement_during_a_long_answer(
    fair_share: FairShare | None, *, long_one_speculative: bool
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], float | None]:
    """A long answer (a speculation, or another session's confirmed answer still in its head) holds the
    LLM when semantic VAD asks whether a turn is over; returns the deltas in the order they came with the
    judgement's place among them (``("judged", "")``), the LLM log and the judgement."""
    log: list[tuple[str, str]] = []
    engines = shared_llm(fair_share, log)
    heard: list[tuple[str, str]] = []
    long_source = EngineSource(engines, fair_share, speculative=long_one_speculative)

    async def judge() -> float | None:
        verdict = await EngineSource(engines, fair_share).end_of_turn(question("is it over?"))
        heard.append(("judged", ""))
        return verdict

    async with asyncio.TaskGroup() as group:
        long_one = group.create_task(answer(long_source, "tell me a long story", heard))
        while len(heard) < 2:  # still in its head: a confirmed answer yields to no other head here
            await asyncio.sleep(0.001)
        judged = group.create_task(judge())
    assert story_text(heard) == STORY_60 and long_one.result().output_tokens == 60  # nothing lost
    return heard, log, judged.result()


@pytest.mark.parametrize("speculative", [False, True])
async def test_a_judgement_is_not_queued_behind_a_generation(speculative: bool) -> None:
    heard, log, verdict = await a_judgement_during_a_long_answer(
        FairShare(), long_one_speculative=speculative
    )
    assert verdict == 0.95
    before = heard.index(("judged", ""))
    assert before <= 4  # the deltas already out, and at most the one being made when it asked
    assert log == [("llm", "tell me a long story"), ("judge", "is it over?"), ("llm", "tell me a long story")]


async def test_without_the_gate_a_judgement_waits_for_the_whole_generation() -> None:
    """The measure of the test above: with the engines called directly, the judgement waits for the
    generation's end (as it did for the speculation started at the same pause)."""
    heard, log, _ = await a_judgement_during_a_long_answer(None, long_one_speculative=True)
    assert heard.index(("judged", "")) == 60
    assert [kind for kind, _ in log] == ["llm", "judge"]


def listener(ahead_s: float) -> Playback:
    """A listener with ``ahead_s`` of audio still to hear (on the scheduler's clock: it runs down in real
    time, so the tests leave wide margins around the leads)."""
    playback = Playback()
    playback.audio_sent(ahead_s)
    return playback


async def pieces_in_order(fair_share: FairShare) -> list[str]:
    """Three calls wait for the TTS while a first piece holds it: another session's speculation, a later
    piece whose listener has plenty (5 s) and one whose listener runs out (0.2 s); the order they got it."""
    log: list[tuple[str, str]] = []
    base = load_engines()
    engines = Engines(vad=base.vad, stt=base.stt, llm=base.llm, tts=RecordingTTS(log), fair_share=fair_share)
    release = asyncio.Event()

    async def holder() -> None:
        async with fair_share.gate("tts").hold(lambda: Priority.HEAD):
            await release.wait()

    async def piece(source: EngineSource, text: str, *, first: bool) -> None:
        async for _ in source.tts_stream(text, "alloy", 1.0, first=first):
            pass

    comfortable, short = EngineSource(engines, fair_share), EngineSource(engines, fair_share)
    comfortable.listen(listener(5.0))
    short.listen(listener(0.2))
    async with asyncio.TaskGroup() as group:
        group.create_task(holder())
        await asyncio.sleep(0)
        group.create_task(piece(EngineSource(engines, fair_share, speculative=True), "guess", first=True))
        group.create_task(piece(comfortable, "comfortable", first=False))
        group.create_task(piece(short, "running out", first=False))
        while fair_share.gate("tts").waiting < 3:
            await asyncio.sleep(0)
        release.set()
    return [text for kind, text in log]


async def test_a_later_piece_whose_listener_runs_out_goes_before_a_speculation() -> None:
    assert await pieces_in_order(FairShare(deadlines=True)) == ["running out", "guess", "comfortable"]


async def test_without_deadlines_every_later_piece_waits_for_the_speculation() -> None:
    assert await pieces_in_order(FairShare(deadlines=False)) == ["guess", "comfortable", "running out"]


async def a_head_while_a_generation_runs_short(
    fair_share: FairShare, *, queued_leads: float = 2.5, other_speculative: bool = False
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """A confirmed answer's listener has nothing ahead when another session's answer (or speculation)
    asks for the LLM; a few words later its listener gets ``queued_leads`` times ``llm_lead_s`` of speech
    (a long piece queued for the TTS). Returns the deltas in the order they came with the two moments
    marked (``("asked", "")``, ``("queued", "")``), and the LLM log. (Before its first audio the story's
    deadline is now minus ``llm_lead_s``: the other head, asked a few ms earlier, is not earlier.)"""
    log: list[tuple[str, str]] = []
    engines = shared_llm(fair_share, log)
    heard: list[tuple[str, str]] = []
    playback = Playback()
    long_source = EngineSource(engines, fair_share)
    long_source.listen(playback)

    def story_deltas() -> int:
        return sum(1 for asked, _ in heard if asked == "tell me a long story")

    async with asyncio.TaskGroup() as group:
        group.create_task(answer(long_source, "tell me a long story", heard))
        while story_deltas() < 12:  # past its head
            await asyncio.sleep(0.001)
        heard.append(("asked", ""))
        other = EngineSource(engines, fair_share, speculative=other_speculative)
        group.create_task(answer(other, "hello", heard))
        asked = story_deltas()
        while story_deltas() < asked + 5 and story_deltas() < 60:
            await asyncio.sleep(0.001)
        playback.text_queued(round(queued_leads * fair_share.llm_lead_s / SECONDS_PER_CHAR))
        heard.append(("queued", ""))
    assert story_text(heard) == STORY_60  # nothing lost either way
    return heard, log


async def test_a_generation_whose_listener_runs_short_keeps_the_llm_until_it_has_plenty() -> None:
    heard, log = await a_head_while_a_generation_runs_short(FairShare(deadlines=True))
    first_hello = heard.index(("hello", "You"))
    assert first_hello > heard.index(("queued", ""))  # the other head waited for the listener's plenty
    stories = [i for i, (asked, _) in enumerate(heard) if asked == "tell me a long story"]
    assert max(stories) > first_hello  # then it gave the LLM up: the story went on after the head
    assert [kind for kind, _ in log] == ["llm", "llm", "llm"]


async def test_a_due_generation_past_its_lead_gives_the_llm_up_to_a_waiting_head() -> None:
    """Between ``llm_lead_s`` and twice that ahead it is still due, but a confirmed answer's head that
    waits (its deadline: when it asked, long before this listener runs short) goes first."""
    heard, log = await a_head_while_a_generation_runs_short(FairShare(deadlines=True), queued_leads=1.5)
    first_hello = heard.index(("hello", "You"))
    assert first_hello > heard.index(("queued", ""))  # not before its listener had the lead
    stories = [i for i, (asked, _) in enumerate(heard) if asked == "tell me a long story"]
    assert max(stories) > first_hello  # the story went on after the head
    assert [kind for kind, _ in log] == ["llm", "llm", "llm"]


async def test_a_due_generation_keeps_the_llm_from_a_speculation_until_it_has_plenty() -> None:
    """In the same place a guess waits: it goes after the story, which keeps the LLM to its end here
    (its listener never gets twice the lead: the test queues 1.5 leads once)."""
    heard, log = await a_head_while_a_generation_runs_short(
        FairShare(deadlines=True), queued_leads=1.5, other_speculative=True
    )
    first_hello = heard.index(("hello", "You"))
    stories = [i for i, (asked, _) in enumerate(heard) if asked == "tell me a long story"]
    assert max(stories) < first_hello
    assert [kind for kind, _ in log] == ["llm", "llm"]


async def test_without_deadlines_a_generation_past_its_head_gives_the_llm_up_at_once() -> None:
    heard, _ = await a_head_while_a_generation_runs_short(FairShare(deadlines=False))
    asked = heard.index(("asked", ""))
    first_hello = heard.index(("hello", "You"))
    assert first_hello < heard.index(("queued", ""))
    assert first_hello - asked <= 3  # the story's delta in flight, at most, before the head took over


async def test_a_speculations_head_holds_background_passes_back_but_no_tail() -> None:
    fair_share = FairShare(tail_wait_s=3600)
    with fair_share.head(speculative=True):
        assert fair_share.making_head() and fair_share.heads == 0
        await fair_share.let_heads_pass()  # at once: a tail does not wait for a guess
    assert not fair_share.making_head()
    with fair_share.head():
        assert fair_share.making_head() and fair_share.heads == 1
    assert not fair_share.making_head()


async def test_a_speculation_marks_its_head_while_it_makes_its_first_words() -> None:
    fair_share = FairShare()
    engines = shared_llm(fair_share, [])
    marked: list[bool] = []
    guess = EngineSource(engines, fair_share, speculative=True)
    async for chunk in guess.llm_stream(question("a long story")):
        if isinstance(chunk, TextDelta):
            marked.append(fair_share.making_head())
    assert marked[:7] == [True] * 7  # the head: the first words (8 deltas)
    assert not any(marked[8:])


async def tts_places(fair_share: FairShare, monkeypatch: pytest.MonkeyPatch) -> list[Priority]:
    """One session's long answer through the server: the place each of its pieces asked the TTS with."""
    places: list[Priority] = []
    gate = fair_share.gate("tts")
    hold = gate.hold

    def recording(priority: Callable[[], Priority], deadline: Callable[[], float] | None = None) -> Any:
        places.append(priority())
        return hold(priority, deadline)

    monkeypatch.setattr(gate, "hold", recording)
    base = load_engines(replies={"story": STORY}, token_delay_s=0.01)
    engines = Engines(vad=base.vad, stt=base.stt, llm=base.llm, tts=base.tts, fair_share=fair_share)
    async with engines, LocalRealtimeServer(ServerConfig(port=0, engines=engines)) as server:
        client = await RawClient.connect(server.realtime_url, "beta")
        assert (await client.recv())["type"] == "session.created"
        await ask(client, "tell me a long story")
        await client.recv_until("response.done")
        await client.aclose()
    return places


async def test_an_answers_second_piece_is_due_and_its_later_pieces_are_tails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second piece asks while its listener has only the first piece (a few words: well under
    ``tts_lead_s``, and less as time passes) ahead; by the last one the tone TTS, many times faster than
    speech, has seconds of audio queued."""
    places = await tts_places(FairShare(deadlines=True), monkeypatch)
    assert places[:2] == [Priority.HEAD, Priority.HEAD]
    assert places[-1] is Priority.TAIL and len(places) >= 12


async def test_without_deadlines_the_second_piece_is_a_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    places = await tts_places(FairShare(deadlines=False), monkeypatch)
    assert places[0] is Priority.HEAD and set(places[1:]) == {Priority.TAIL}


async def story_deltas_before_another_head(fair_share: FairShare, *, cut_by_playback: bool) -> int:
    """A confirmed answer holds the LLM when another session's head asks for it; a few deltas later its
    first piece is cut for the TTS. Returns the answer's deltas before the other head's first one."""
    log: list[tuple[str, str]] = []
    engines = shared_llm(fair_share, log)
    heard: list[tuple[str, str]] = []
    playback = Playback()
    story = EngineSource(engines, fair_share)
    story.listen(playback)
    async with asyncio.TaskGroup() as group:
        group.create_task(answer(story, "tell me a long story", heard))
        while not heard:
            await asyncio.sleep(0.001)
        group.create_task(answer(EngineSource(engines, fair_share), "hello", heard))
        while len(heard) < 3:
            await asyncio.sleep(0.001)
        if cut_by_playback:
            playback.text_queued(len("".join(delta for _, delta in heard)))  # a response's first piece
        else:
            story.first_piece_cut()  # a speculation's
    assert story_text(heard) == STORY_60  # nothing lost either way
    return heard.index(("hello", "You"))


@pytest.mark.parametrize("cut_by_playback", [True, False])
async def test_a_head_gives_the_llm_up_to_another_head_once_its_first_piece_is_cut(
    cut_by_playback: bool,
) -> None:
    before = await story_deltas_before_another_head(
        FairShare(short_heads=True), cut_by_playback=cut_by_playback
    )
    assert before < 8  # short of the head's 8 deltas: at the first delta after the cut


async def test_without_short_heads_a_head_keeps_the_llm_for_its_eight_deltas() -> None:
    before = await story_deltas_before_another_head(FairShare(short_heads=False), cut_by_playback=True)
    assert before >= 8


async def test_the_llm_is_told_when_a_head_waits_for_it() -> None:
    fair_share = FairShare()
    gate = fair_share.gate("llm")
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.hold(lambda: Priority.TAIL):
            await release.wait()

    async def waiter(priority: Priority) -> None:
        async with gate.hold(lambda: priority):
            pass

    assert not fair_share.llm_head_waits()
    async with asyncio.TaskGroup() as group:
        group.create_task(holder())
        await asyncio.sleep(0)
        group.create_task(waiter(Priority.TAIL))
        group.create_task(waiter(Priority.PREFILL))
        while gate.waiting < 2:
            await asyncio.sleep(0.001)
        assert not fair_share.llm_head_waits()  # tails and reading ahead: the LLM may pause for speech
        group.create_task(waiter(Priority.SPECULATIVE))
        while gate.waiting < 3:
            await asyncio.sleep(0.001)
        assert fair_share.llm_head_waits()
        release.set()
    assert not fair_share.llm_head_waits()

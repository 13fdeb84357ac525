"""The realtime service in a pipeline, against ``voxpipe serve`` (test engines), through the fault proxy.

One scenario per fault kind. Each runs a conversation of two answers with a fault injected on the way,
then checks what a live call needs:

* the pipeline still runs (or, for a fatal fault, stopped with a fatal ``ErrorFrame``);
* the local context equals the server's conversation: every item the service knows is retrieved from
  the server and compared, kind, role and text, in order, with the context's messages (no item lost,
  none duplicated);
* ``conversation_already_has_active_response`` never came from the server;
* every answer's frames are balanced: as many ``LLMFullResponseStartFrame`` as ``...EndFrame``, as many
  ``TTSStartedFrame`` as ``TTSStoppedFrame``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from voxpipe.audio import resample, silence
from voxpipe.frames.frames import (
    ErrorFrame,
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMMessagesAppendFrame,
    TTSAudioRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineTask
from voxpipe.processors.aggregators.llm_response import LLMUserContextAggregator, UserTurnState
from voxpipe.processors.frame_processor import FrameDirection
from voxpipe.realtime.client import ClientState, ReconnectPolicy
from voxpipe.server import LocalRealtimeServer, ServerConfig
from voxpipe.server.engines.testing import encode_tones
from voxpipe.server.engines.testing.tones import normalize_text
from voxpipe.services._realtime_service.outage import QUIET_RESEND_MS
from voxpipe.services._realtime_service.service import IDLE_ROTATION_CHECK_S, MIN_IDLE_ROTATION_AGE_S
from voxpipe.services._realtime_service.state import SILENT_TURN_MS, Listening
from voxpipe.services.llm_service import FunctionCallParams
from voxpipe.services.openai_realtime import OpenAIRealtimeLLMService
from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService, OpenAIRealtimeLLMContext
from voxpipe.services.openai_realtime_beta.events import (
    InputAudioTranscription,
    SessionProperties,
    TurnDetection,
)
from voxpipe.testing import faults
from voxpipe.testing.conversation_checks import (
    active_response_errors,
    output_outside_answers,
    unbalanced_frames,
    unmatched_user_speaking,
)
from voxpipe.testing.faults import (
    AUDIO_DELTA,
    FATAL_ERROR_CODES,
    RECONNECT_CLOSE_CODES,
    RECOVERABLE_ERROR_CODES,
    WRONG_FIELD_VARIANTS,
    Fault,
    FaultKind,
    FaultProxy,
    Scenario,
)

from .._shared import WEATHER_TOOL
from .openai_realtime_beta.rig import Recorder

SHAPES = ["beta", "ga"]
"""Both dialects go through every fault (the proxy injects each in the shape of the link)."""
FAST_RECONNECT = ReconnectPolicy(base_delay=0.01, max_delay=0.05, jitter=0.0)

RECOVERABLE: dict[str, Fault] = {
    "drop_before_response": faults.drop_before_response(),
    "drop_during_response": faults.drop_during_response(nth=2),
    "drop_after_response": faults.drop_after_response(),
    "stall": faults.stall(0.3),
    "unknown_event": faults.unknown_event(),
    "malformed_json": faults.malformed_json(),
    **{f"wrong_fields:{name}": faults.wrong_fields(i) for i, name in enumerate(WRONG_FIELD_VARIANTS)},
    "deep_nesting": faults.deep_nesting(),
    "duplicate:item": faults.duplicate(),
    "duplicate:response.created": faults.duplicate(["response.created"]),
    "duplicate:response.done": faults.duplicate(["response.done"]),
    "replay_answer:after_done": faults.replay_answer(on=("response.done",)),
    "replay_answer:after_done:same_ids": faults.replay_answer(on=("response.done",), fresh_ids=False),
    **{f"error_event:{code}": faults.error_event(code) for code in RECOVERABLE_ERROR_CODES},
    "expiry": faults.expiry(),
    **{f"close:{code}": faults.close_with(code) for code in RECONNECT_CLOSE_CODES},
}


@pytest.fixture
async def server() -> AsyncIterator[LocalRealtimeServer]:
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test")) as running:
        yield running


@dataclass
class Call:
    """A pipeline ``[up, user aggregator, service, assistant aggregator, down]`` through a proxy."""

    service: OpenAIRealtimeBetaLLMService
    context: OpenAIRealtimeLLMContext
    task: PipelineTask
    up: Recorder
    down: Recorder
    proxy: FaultProxy
    user: LLMUserContextAggregator

    def count(self, kind: type) -> int:
        return len(self.down.of(kind))

    async def settle(self, answers: int, timeout: float = 20.0) -> None:
        """Wait for ``answers`` answers, with the service idle and connected and nothing held."""
        service = self.service

        def settled() -> bool:
            client = service._client
            return (
                self.count(LLMFullResponseEndFrame) >= answers
                and client is not None
                and client.state is ClientState.CONNECTED
                and not service._responses.in_progress
                and service._outage.held_ms == 0
                and not service._calls_in_flight
            )

        async with asyncio.timeout(timeout):
            while not settled():
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # the aggregator downstream commits the last answer

    async def say(self, text: str) -> None:
        await self.task.queue_frame(LLMMessagesAppendFrame(messages=[{"role": "user", "content": text}]))

    async def assert_in_step_with_the_server(self) -> None:
        """The local context, as items, equals the server's conversation, item by item."""
        assert await self.service.conversation_differences() == []

    def assert_balanced_and_clean(self) -> None:
        assert unbalanced_frames(self.down.frames) == []
        assert output_outside_answers(self.down.frames) == []  # nothing of an answer after its end
        assert active_response_errors(self.up.frames) == []
        for recorder in (self.down, self.up):  # every start of the user's speaking the service told ended
            assert unmatched_user_speaking(recorder.frames) == []
        errors = [f.error for f in self.up.of(ErrorFrame)]
        assert not any(f.fatal for f in self.up.of(ErrorFrame)), errors


async def open_call(
    server: LocalRealtimeServer,
    planned: list[Fault],
    *,
    shape: str = "beta",
    audio: bool = False,
    own_turns: bool = False,
    tools: bool = False,
    reconnect: ReconnectPolicy = FAST_RECONNECT,
    **service_kwargs: Any,
) -> tuple[Call, asyncio.Task[None]]:
    proxy = FaultProxy(server.realtime_url, Scenario(planned))
    await proxy.__aenter__()
    props = SessionProperties(
        modalities=["audio", "text"] if audio else ["text"],
        turn_detection=TurnDetection(silence_duration_ms=300) if audio and not own_turns else False,
        input_audio_transcription=InputAudioTranscription(model="whisper-1") if audio else None,
        tools=[WEATHER_TOOL] if tools else None,
    )
    kind = OpenAIRealtimeLLMService if shape == "ga" else OpenAIRealtimeBetaLLMService
    service = kind(
        api_key="local", base_url=proxy.url, session_properties=props, reconnect=reconnect, **service_kwargs
    )
    context = OpenAIRealtimeLLMContext(messages=[{"role": "user", "content": "hello there"}])
    pair = service.create_context_aggregator(context)
    up, down = Recorder(FrameDirection.UPSTREAM), Recorder(FrameDirection.DOWNSTREAM)
    task = PipelineTask(Pipeline([up, pair.user(), service, pair.assistant(), down]))
    runner = asyncio.create_task(task.run())
    await task.queue_frame(LLMContextFrame(context=context))
    return Call(service, context, task, up, down, proxy, pair.user()), runner


async def close_call(call: Call, runner: asyncio.Task[None]) -> None:
    if not runner.done():
        await call.task.stop_when_done()
    try:
        await asyncio.wait_for(runner, timeout=10)
    finally:
        await call.proxy.aclose()


async def two_answers(server: LocalRealtimeServer, planned: list[Fault], **kwargs: Any) -> Call:
    call, runner = await open_call(server, planned, **kwargs)
    try:
        await call.settle(answers=1)
        await call.say("how are you today")
        await call.settle(answers=2)
        assert not runner.done()  # the pipeline still runs
        await call.assert_in_step_with_the_server()
        call.assert_balanced_and_clean()
    finally:
        await close_call(call, runner)
    return call


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(RECOVERABLE))
async def test_the_call_lives_through(server: LocalRealtimeServer, name: str, shape: str) -> None:
    fault = RECOVERABLE[name]
    call = await two_answers(server, [fault], shape=shape)
    assert call.proxy.injected[fault.kind] == 1, call.proxy.history
    if fault.kind in (FaultKind.DROP, FaultKind.EXPIRY, FaultKind.CLOSE):
        assert call.proxy.connections == 2  # it came back, on a new session with the history replayed


REPEATS: dict[str, Fault] = {
    "first_delta_twice": faults.duplicate(AUDIO_DELTA),  # the same event, event_id and all
    # The answer's item is over (audio and transcript parts done, the response not yet): all of it again.
    "item_replayed": faults.replay_answer(on=("response.output_item.done",)),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(REPEATS))
async def test_a_repeated_audio_delta_plays_once(server: LocalRealtimeServer, name: str, shape: str) -> None:
    fault = REPEATS[name]
    audio_ms: dict[bool, float] = {}
    for faulty in (False, True):  # the same answer, with and without the repeat
        call, runner = await open_call(server, [fault] if faulty else [], shape=shape, audio=True)
        try:
            await call.settle(answers=1)
            await call.assert_in_step_with_the_server()  # the transcript was not doubled either
            call.assert_balanced_and_clean()
        finally:
            await close_call(call, runner)
        audio_ms[faulty] = sum(f.duration_ms for f in call.down.of(TTSAudioRawFrame))
        assert call.proxy.injected[fault.kind] == int(faulty), call.proxy.history
    assert audio_ms[True] == audio_ms[False] > 0  # the repeat was not played


REPLAYS: dict[str, list[Fault]] = {
    # The link dies in the middle of an answer; the new session first gets that answer's deltas again.
    "after_a_reconnect": [faults.drop_during_response(nth=6), faults.replay_answer()],
    "after_a_reconnect:same_ids": [faults.drop_during_response(nth=6), faults.replay_answer(fresh_ids=False)],
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(REPLAYS))
async def test_an_answer_replayed_plays_once(server: LocalRealtimeServer, name: str, shape: str) -> None:
    call, runner = await open_call(server, REPLAYS[name], shape=shape, audio=True)
    try:
        await call.settle(answers=1)
        await call.say("how are you today")
        await call.settle(answers=2)
        await call.assert_in_step_with_the_server()
        call.assert_balanced_and_clean()  # nothing played or said after its end
    finally:
        await close_call(call, runner)
    assert call.proxy.injected[FaultKind.REPLAY] == 1, call.proxy.history
    assert call.service._finished.replays + call.service._repeats.repeats > 0  # it came, and was dropped


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_drop_during_a_function_call(server: LocalRealtimeServer, shape: str) -> None:
    results: list[str] = []

    async def weather(params: FunctionCallParams) -> None:
        await asyncio.sleep(0.05)  # the link is down by now
        results.append(params.arguments.get("city", ""))
        await params.result_callback({"sky": "sunny"})

    call, runner = await open_call(server, [faults.drop_during_function_call()], tools=True, shape=shape)
    call.service.register_function("get_weather", weather)
    try:
        await call.settle(answers=1)
        await call.say("weather in Paris")
        await call.settle(answers=3)  # the call, then the answer with its result
        await call.assert_in_step_with_the_server()
        call.assert_balanced_and_clean()
    finally:
        await close_call(call, runner)
    assert [r.lower() for r in results] == ["paris"]  # run once, not again after the reconnect
    assert call.proxy.injected[FaultKind.DROP] == 1


WORDS = "hello voxpipe how are you"
"""A turn of 750 ms of speech, after 600 ms of silence: ~100 ms appends 1-6 are silence, 7-13 speech."""

DROP_POINTS: dict[str, Fault] = {
    # nothing said yet: the audio held while down carries the turn
    "in_the_silence_before": faults.drop_while_audio_streams(nth=3),
    # without the resend the new session heard "how are you"
    "early_in_the_words": faults.drop_while_audio_streams(nth=8),
    # without it, what was left after the outage was too short: no turn at all
    "late_in_the_words": faults.drop_while_audio_streams(nth=12),
    # committed and answered (or not yet) on the old session
    "as_the_turn_ends": faults.drop_while_audio_streams(nth=17),
    # the old session committed the turn: its answer had not started, its transcript had not come
    "right_after_the_commit": Fault(
        kind=FaultKind.DROP, on=("input_audio_buffer.committed",), label="drop_after_the_commit"
    ),
}


async def a_turn_through_a_drop(
    server: LocalRealtimeServer,
    drop: Fault,
    shape: str,
    *,
    first: Sequence[Fault] = (),
    own_turns: bool = False,
    **service_kwargs: Any,
) -> Call:
    """The user says ``WORDS`` with ``first`` then ``drop`` planned; with ``own_turns`` the pipeline's
    speaking frames end the turn (turn detection off) instead of the server's VAD."""
    slow = ReconnectPolicy(base_delay=0.3, max_delay=0.3, jitter=0.0)  # the user goes on talking meanwhile
    planned = [*first, drop]
    call, runner = await open_call(
        server, planned, audio=True, own_turns=own_turns, reconnect=slow, shape=shape, **service_kwargs
    )
    try:
        await call.settle(answers=1)
        rate = 16000
        pcm = silence(600, rate) + resample(encode_tones(WORDS), 24000, rate) + silence(900, rate)
        if own_turns:
            await call.task.queue_frame(UserStartedSpeakingFrame())
        await speak(call, pcm, rate)
        if own_turns:
            await call.task.queue_frame(UserStoppedSpeakingFrame())
        await call.settle(answers=2)
        await call.assert_in_step_with_the_server()
        call.assert_balanced_and_clean()
    finally:
        await close_call(call, runner)
    assert call.proxy.connections == 2 and call.proxy.injected[FaultKind.DROP] == 1
    return call


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("point", list(DROP_POINTS))
async def test_a_drop_while_the_user_speaks_loses_none_of_their_words(
    server: LocalRealtimeServer, point: str, shape: str
) -> None:
    call = await a_turn_through_a_drop(server, DROP_POINTS[point], shape)
    # Heard whole and once: the old session's uncommitted audio (the words so far, which died with its
    # buffer) went to the new one, then the audio still queued, then what was held while down.
    assert said_by_the_user(call) == ["hello there", WORDS]
    # The pipeline was told of one turn, once, though two sessions' VADs heard it (the new one heard the
    # words sent again: the turn so far, or the turn it had ended and not answered)
    assert_told_each_way(call, ["started", "stopped"])
    outage = call.service._outage
    assert outage.unheard_resent_ms + outage.resent_ms > 0


TRANSCRIPT_LOST = faults.lose(["conversation.item.input_audio_transcription.completed"])
"""A transcript the server would have sent after it started answering: lost with the drop that follows."""
ANSWER_STARTED_DROP = Fault(kind=FaultKind.DROP, on=("response.output_item.added",), before=True)
"""The link dies once the answer started (the client has its ``response.created``)."""


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_drop_after_the_answer_started_and_before_the_transcript_loses_no_question(
    server: LocalRealtimeServer, shape: str
) -> None:
    # A server that transcribes after it answers (OpenAI's often does): the link dies with the answer
    # started and the words not back. The new session hears the question again and answers it; without
    # that the context held the cut answer and not the question.
    call = await a_turn_through_a_drop(server, ANSWER_STARTED_DROP, shape, first=[TRANSCRIPT_LOST])
    assert said_by_the_user(call) == ["hello there", WORDS]
    assert_told_each_way(call, ["started", "stopped"])  # the question heard again is not a turn again
    assert call.proxy.injected[FaultKind.LOSE] == 1
    assert call.service._outage.unheard_resent_ms >= 700  # the question's audio, not just the last second


@pytest.mark.parametrize("shape", SHAPES)
async def test_with_the_pipelines_own_turns_a_commit_lost_with_the_session_is_made_again(
    server: LocalRealtimeServer, shape: str
) -> None:
    # Turn detection off: the pipeline's VAD ends the turn and the service commits. The link dies after
    # the answer started, the words not back: the new session gets the turn's audio, our commit again,
    # and the request for its answer.
    call = await a_turn_through_a_drop(
        server, ANSWER_STARTED_DROP, shape, first=[TRANSCRIPT_LOST], own_turns=True
    )
    assert said_by_the_user(call) == ["hello there", WORDS]


@pytest.mark.parametrize("shape", SHAPES)
async def test_without_the_resend_a_drop_cuts_the_users_words(
    server: LocalRealtimeServer, shape: str
) -> None:
    call = await a_turn_through_a_drop(server, DROP_POINTS["early_in_the_words"], shape, resent_audio_ms=0)
    said = said_by_the_user(call)
    assert len(said) == 2 and not said[-1].startswith("hello")  # the first words are gone (the rest is
    # "how are you", read from a cut tone)
    assert call.service._outage.unheard_resent_ms == 0


@pytest.mark.parametrize(
    "fault",
    [faults.error_event(code) for code in FATAL_ERROR_CODES]
    + [faults.close_with(4000), faults.close_with(1008)],
    ids=lambda f: f.name,
)
@pytest.mark.parametrize("shape", SHAPES)
async def test_a_fatal_fault_stops_the_pipeline_with_a_fatal_error(server, fault: Fault, shape: str) -> None:
    call, runner = await open_call(server, [fault], shape=shape)
    try:
        await asyncio.wait_for(asyncio.shield(runner), timeout=15)
    finally:
        await close_call(call, runner)
    fatal = [f for f in call.up.of(ErrorFrame) if f.fatal]
    assert len(fatal) >= 1
    assert call.count(LLMFullResponseStartFrame) == call.count(LLMFullResponseEndFrame)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_seeded_run_of_random_faults(server: LocalRealtimeServer, seed: int, shape: str) -> None:
    scenario = Scenario.random(seed, 3)
    call, runner = await open_call(server, scenario.faults, shape=shape)
    try:
        for turn in range(2, 6):
            await call.settle(answers=turn - 1)
            await call.say(f"question number {turn}")
        await call.settle(answers=5)
        await call.assert_in_step_with_the_server()
        call.assert_balanced_and_clean()
    finally:
        await close_call(call, runner)


async def speak(call: Call, pcm: bytes, rate: int, speed: float = 1.0) -> None:
    """Stream ``pcm`` into the pipeline in 20 ms frames, in real time as a microphone would (or ``speed``
    times faster: a file)."""
    step = rate // 50 * 2
    for offset in range(0, len(pcm), step):
        await call.task.queue_frame(InputAudioRawFrame(audio=pcm[offset : offset + step], sample_rate=rate))
        await asyncio.sleep(0.02 / speed)


def said_by_the_user(call: Call) -> list[Any]:
    return [m.get("content") for m in call.context.messages if m.get("role") == "user"]


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_session_past_its_maximum_age_rotates_between_answers(
    server: LocalRealtimeServer, shape: str
) -> None:
    call, runner = await open_call(server, [], shape=shape, max_session_age_s=0.0)  # every answer ends one
    try:
        await call.settle(answers=1)
        await call.say("how are you today")
        await call.settle(answers=2)
        await call.say("and now")
        await call.settle(answers=3)
        await call.assert_in_step_with_the_server()
        call.assert_balanced_and_clean()
    finally:
        await close_call(call, runner)
    assert call.proxy.connections == 4  # a fresh session after each answer, the history replayed each time
    assert sum(call.proxy.injected.values()) == 0


@pytest.mark.parametrize("shape", SHAPES)
async def test_an_idle_session_past_its_maximum_age_rotates_too(
    server: LocalRealtimeServer, shape: str
) -> None:
    loop = asyncio.get_running_loop()
    opened = loop.time()
    call, runner = await open_call(server, [], shape=shape, max_session_age_s=MIN_IDLE_ROTATION_AGE_S)
    try:
        await call.settle(answers=1)
        assert call.proxy.connections == 1
        async with asyncio.timeout(MIN_IDLE_ROTATION_AGE_S + 5):  # nothing is said: the session ages idle
            while call.proxy.connections < 2:
                await asyncio.sleep(0.05)
        await call.say("how are you today")  # the fresh session, with the history replayed, answers
        await call.settle(answers=2)
        await call.assert_in_step_with_the_server()
        call.assert_balanced_and_clean()
    finally:
        await close_call(call, runner)
    # At most one rotation per age: each session lived a whole age before it was replaced (a busy machine
    # makes the call longer, and then an idle session may rotate again before it closes).
    lived = loop.time() - opened
    assert 2 <= call.proxy.connections <= 1 + int(lived // MIN_IDLE_ROTATION_AGE_S)


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_session_that_ages_while_the_user_speaks_rotates_after_the_answer(
    server: LocalRealtimeServer, shape: str
) -> None:
    limit = MIN_IDLE_ROTATION_AGE_S
    words = "the quick brown fox jumps over the lazy dog " * 3  # about 4 s of speech
    call, runner = await open_call(server, [], shape=shape, audio=True, max_session_age_s=limit)
    loop = asyncio.get_running_loop()
    try:
        await call.settle(answers=1)
        due = call.service._session_started_at + limit
        began = loop.time()
        rate = 16000
        await speak(call, resample(encode_tones(words), 24000, rate), rate)
        ended = loop.time()
        assert call.proxy.connections == 1  # not rotated under the speaking user
        await speak(call, silence(900, rate), rate)
        await call.settle(answers=2)
        async with asyncio.timeout(10):  # the answer's end was the safe point
            while call.proxy.connections < 2:
                await asyncio.sleep(0.02)
        await call.settle(answers=2)
        await call.assert_in_step_with_the_server()
        call.assert_balanced_and_clean()
    finally:
        await close_call(call, runner)
    assert began < due < ended, (began, due, ended)  # the session reached its age while the user spoke
    assert said_by_the_user(call)[-1] == normalize_text(words).strip()  # heard whole, by one session
    assert call.proxy.connections == 2


@pytest.mark.parametrize("shape", SHAPES)
async def test_with_the_pipelines_own_turns_a_speaking_user_holds_the_rotation_too(
    server: LocalRealtimeServer, shape: str
) -> None:
    limit = MIN_IDLE_ROTATION_AGE_S
    call, runner = await open_call(server, [], shape=shape, max_session_age_s=limit)  # turn_detection off
    loop = asyncio.get_running_loop()
    try:
        await call.settle(answers=1)
        await call.task.queue_frame(UserStartedSpeakingFrame())
        rate = 16000
        words = resample(encode_tones("hello voxpipe"), 24000, rate)
        past_due = call.service._session_started_at + limit + 2 * IDLE_ROTATION_CHECK_S
        while loop.time() < past_due:  # the user speaks until the session is past its age
            await speak(call, words, rate)
        assert call.proxy.connections == 1
        await call.task.queue_frame(UserStoppedSpeakingFrame())  # commit and answer, then rotate
        async with asyncio.timeout(10):
            while call.proxy.connections < 2:
                await asyncio.sleep(0.02)
        await call.settle(answers=2)
        call.assert_balanced_and_clean()
    finally:
        await close_call(call, runner)
    assert call.proxy.connections == 2


def room_noise(ms: int, rate: int, dbfs: float = -60.0, seed: int = 1) -> bytes:
    """Near-silence as a live microphone gives it: the hiss of a quiet room, ``dbfs`` RMS (seeded)."""
    sigma = 32768 * 10 ** (dbfs / 20)
    return np.random.default_rng(seed).normal(0.0, sigma, rate * ms // 1000).astype("<i2").tobytes()


@dataclass
class Streamed:
    """Where a stream of the user's audio was when the session came due, and when it rotated (ms of it)."""

    when_due: float | None = None
    when_rotated: float | None = None


async def stream_past_the_age(call: Call, pcm: bytes, rate: int, limit: float) -> Streamed:
    """Stream ``pcm`` in real time until the session is past its age ``limit`` (and two idle checks), then
    five times faster (audio time is what a turn's silence is counted in); stop at a rotation."""
    loop = asyncio.get_running_loop()
    due = call.service._session_started_at + limit + 2 * IDLE_ROTATION_CHECK_S
    streamed = Streamed()
    frame = rate // 50 * 2  # 20 ms
    for offset in range(0, len(pcm), frame):
        if streamed.when_due is None and loop.time() >= due:
            streamed.when_due = offset / frame * 20
        await speak(call, pcm[offset : offset + frame], rate, speed=1 if streamed.when_due is None else 5)
        if call.proxy.connections > 1:
            streamed.when_rotated = (offset + frame) / frame * 20
            break
    return streamed


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_turn_the_server_never_ends_stops_holding_the_age_rotation_once_near_silent(
    server: LocalRealtimeServer, shape: str
) -> None:
    # The server says the user started and never that they stopped (a stuck VAD, noise taken for speech,
    # a lost speech_stopped), while the microphone gives a quiet room's hiss. The turn holds the rotation
    # past the session's age, until SILENT_TURN_MS of that near-silence was sent since it started.
    limit = MIN_IDLE_ROTATION_AGE_S
    call, runner = await open_call(
        server, [faults.stuck_speech()], shape=shape, audio=True, max_session_age_s=limit
    )
    rate = 16000
    try:
        await call.settle(answers=1)
        streamed = await stream_past_the_age(call, room_noise(SILENT_TURN_MS + 30_000, rate), rate, limit)
        assert call.proxy.injected[FaultKind.SPEECH_STARTED] == 1
        # The age came (audio is streamed no faster than real time until then) with the turn held open ...
        assert streamed.when_due is not None and streamed.when_due < SILENT_TURN_MS, streamed
        # ... and it rotated, not before the turn's near-silence was long enough (the speech_started came
        # after the first append, so the service had sent at most this much since).
        assert streamed.when_rotated is not None and streamed.when_rotated >= SILENT_TURN_MS, streamed
        # Nothing of the user's went again whole: the turn held no words, only the last moments are resent.
        assert call.service._outage.unheard_resent_ms <= QUIET_RESEND_MS + 200
        await assert_the_turn_given_up_ended_once(call)
        await call.say("how are you today")  # the fresh session, with the history replayed, answers
        await call.settle(answers=2)
        await call.assert_in_step_with_the_server()
        call.assert_balanced_and_clean()
    finally:
        await close_call(call, runner)
    assert call.proxy.connections == 2


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_user_who_keeps_speaking_in_a_turn_the_server_never_ended_is_not_rotated_mid_turn(
    server: LocalRealtimeServer, shape: str
) -> None:
    # The same stuck speech_started, but the user goes on speaking, longer than SILENT_TURN_MS, past the
    # session's age: loud audio keeps the turn open; the answer's end rotates.
    limit = MIN_IDLE_ROTATION_AGE_S
    words = "the quick brown fox jumps over the lazy dog " * 9  # about 12 s of speech, no pause
    call, runner = await open_call(
        server, [faults.stuck_speech()], shape=shape, audio=True, max_session_age_s=limit
    )
    rate = 16000
    speech = resample(encode_tones(words), 24000, rate)
    try:
        await call.settle(answers=1)
        streamed = await stream_past_the_age(call, speech, rate, limit)
        assert call.proxy.injected[FaultKind.SPEECH_STARTED] == 1
        assert streamed.when_due is not None and streamed.when_due < SILENT_TURN_MS, streamed
        assert streamed.when_rotated is None, streamed  # not under the speaking user
        assert len(speech) / 2 / rate * 1000 > SILENT_TURN_MS + 1000  # though they spoke longer than that
        assert call.service._turn.state is Listening.SPEAKING
        await speak(call, silence(900, rate), rate)  # the server's VAD ends the turn: answer, then rotate
        async with asyncio.timeout(15):
            while call.proxy.connections < 2:
                await asyncio.sleep(0.02)
        await call.settle(answers=2)
        await call.assert_in_step_with_the_server()
        call.assert_balanced_and_clean()
    finally:
        await close_call(call, runner)
    assert said_by_the_user(call)[-1] == normalize_text(words).strip()  # heard whole, by one session
    assert call.proxy.connections == 2


async def assert_the_turn_given_up_ended_once(call: Call) -> None:
    """The stuck turn's UserStartedSpeakingFrame was ended by one UserStoppedSpeakingFrame each way, made by
    the service (``emulated``: no VAD heard the end), and the user aggregator left its turn."""
    await call.down.wait_for(lambda: bool(call.down.of(UserStoppedSpeakingFrame)))
    await call.up.wait_for(lambda: bool(call.up.of(UserStoppedSpeakingFrame)))
    for recorder in (call.down, call.up):
        assert len(recorder.of(UserStartedSpeakingFrame)) == 1
        assert [f.emulated for f in recorder.of(UserStoppedSpeakingFrame)] == [True]
        assert unmatched_user_speaking(recorder.frames) == []
    async with asyncio.timeout(5):  # the aggregator ends its turn through its own queue
        while call.user.turn_state is not UserTurnState.IDLE:
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_turn_the_server_never_ends_stops_holding_the_age_rotation_once_no_audio_is_sent(
    server: LocalRealtimeServer, shape: str
) -> None:
    # The same stuck speech_started, then the user mutes: the application pauses the service's input while
    # the microphone still hears them talk, then the transport stops sending at all. The server gets no
    # audio, so its VAD counts nothing and never ends the turn: the turn holds the rotation for
    # SILENT_TURN_MS of wall-clock time in which nothing louder than near-silence was sent, no longer.
    limit = MIN_IDLE_ROTATION_AGE_S
    call, runner = await open_call(
        server, [faults.stuck_speech()], shape=shape, audio=True, max_session_age_s=limit
    )
    rate = 16000
    service = call.service
    loop = asyncio.get_running_loop()
    talk = resample(encode_tones("the quick brown fox jumps over the lazy dog " * 4), 24000, rate)  # 5 s
    talk_s = len(talk) / 2 / rate
    try:
        await call.settle(answers=1)
        async with asyncio.timeout(10):  # the stuck speech_started comes after the first append
            while service._turn.state is not Listening.SPEAKING:
                await speak(call, room_noise(100, rate), rate)
        started_at = service._turn.started_at
        service.set_audio_input_paused(True)  # muted in the application
        await speak(call, talk, rate)  # the microphone still hears the user: none of it is sent
        assert call.proxy.connections == 1 and talk_s >= 4  # held over the user's talk ...
        # ... and the transport sends nothing after it: the session rotates once the turn was quiet long
        # enough (the session is past its age), which the user's talk while muted did not put off
        async with asyncio.timeout(SILENT_TURN_MS / 1000 + 20):
            while call.proxy.connections < 2:
                await asyncio.sleep(0.02)
        quiet_s = loop.time() - started_at
        assert SILENT_TURN_MS / 1000 <= quiet_s < SILENT_TURN_MS / 1000 + talk_s, quiet_s
        assert service._encoder.sent_ms < SILENT_TURN_MS / 2  # the audio's own count was far from it
        assert call.proxy.injected[FaultKind.SPEECH_STARTED] == 1
        assert service._outage.unheard_resent_ms <= QUIET_RESEND_MS + 200  # the turn held no words
        await assert_the_turn_given_up_ended_once(call)
        service.set_audio_input_paused(False)
        await speak(call, room_noise(300, rate), rate)
        await call.say("how are you today")  # the fresh session, with the history replayed, answers
        await call.settle(answers=2)
        await call.assert_in_step_with_the_server()
        call.assert_balanced_and_clean()
    finally:
        await close_call(call, runner)
    assert call.proxy.connections == 2


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_turn_the_service_gave_up_on_ends_once_though_the_servers_speech_stopped_comes_late(
    server: LocalRealtimeServer, shape: str
) -> None:
    # The stuck speech_started of a quiet room: the service rotates under the silent turn and ends it for
    # the pipeline (the aggregators and observers got a UserStartedSpeakingFrame); the server's own
    # speech_stopped then comes late, on the new session: the pipeline is not told the user stopped twice.
    limit = MIN_IDLE_ROTATION_AGE_S
    call, runner = await open_call(
        server,
        [faults.stuck_speech(), faults.speech_stopped()],
        shape=shape,
        audio=True,
        max_session_age_s=limit,
    )
    rate = 16000
    try:
        await call.settle(answers=1)
        streamed = await stream_past_the_age(call, room_noise(SILENT_TURN_MS + 30_000, rate), rate, limit)
        assert streamed.when_rotated is not None, streamed
        await assert_the_turn_given_up_ended_once(call)
        async with asyncio.timeout(10):  # the late speech_stopped came, and the service heard it
            while call.service._turn.state is not Listening.ENDED:
                await speak(call, room_noise(100, rate), rate)
        assert call.proxy.injected[FaultKind.SPEECH_STOPPED] == 1
        assert [(h.connection, h.kind) for h in call.proxy.history] == [
            (1, FaultKind.SPEECH_STARTED),
            (2, FaultKind.SPEECH_STOPPED),
        ]
        await asyncio.sleep(0.1)  # (frames are pushed as the event is handled; a margin for the recorders)
        await assert_the_turn_given_up_ended_once(call)  # still the one stop, each way
        await call.say("how are you today")
        await call.settle(answers=2)
        await call.assert_in_step_with_the_server()
        call.assert_balanced_and_clean()
    finally:
        await close_call(call, runner)
    assert call.proxy.connections == 2


def user_speaking_told(recorder: Recorder) -> list[str]:
    """The user's speaking frames one way, in order: ``started``, ``stopped``, or ``stopped*`` (emulated)."""
    told = []
    for frame in recorder.frames:
        if isinstance(frame, UserStartedSpeakingFrame):
            told.append("started")
        elif isinstance(frame, UserStoppedSpeakingFrame):
            told.append("stopped*" if frame.emulated else "stopped")
    return told


def assert_told_each_way(call: Call, expected: list[str]) -> None:
    """The pipeline was told ``expected`` of the user's speaking (see ``user_speaking_told``), downstream
    and upstream alike (the user aggregator sits upstream of the service)."""
    for recorder in (call.down, call.up):
        assert user_speaking_told(recorder) == expected


async def stream_until(call: Call, pcm: bytes, rate: int, done: Any, speed: float = 5.0) -> None:
    """Stream ``pcm`` in 100 ms pieces ``speed`` times faster than real time until ``done()``; fail if it
    ran out first."""
    step = rate // 10 * 2
    for offset in range(0, len(pcm), step):
        if done():
            return
        await speak(call, pcm[offset : offset + step], rate, speed=speed)
    assert done(), "the audio ran out first"


async def until_the_answer_played(call: Call) -> None:
    """Wait until the last answer's audio was played by the service's own estimate (the test pipeline has
    no output to report it): a ``speech_started`` after that truncates nothing of it on the server."""
    answer, loop = call.service._answer, asyncio.get_running_loop()
    received = answer.received_ms.get(answer.item_id or "", 0.0)
    async with asyncio.timeout(10 + received / 1000):
        while answer.played_estimate_ms(loop.time()) < received - 1:
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("age", [None, 3600.0], ids=["no age", "an hour's age"])
async def test_a_turn_the_server_never_ends_ends_for_the_pipeline_once_quiet_before_any_rotation(
    server: LocalRealtimeServer, shape: str, age: float | None
) -> None:
    # The stuck speech_started of a quiet room. With no max_session_age_s (the default) no rotation will
    # come to give the turn up; with an hour's age it would come only in an hour. Once the turn has been
    # quiet for SILENT_TURN_MS the pipeline gets its emulated stop, once, on the same session; the server's
    # speech_stopped that comes late is not told again; an answer after it, and the user's next turn, go
    # as usual.
    late_stop = faults.speech_stopped(on=("response.done",))  # after the answer to what is said next
    call, runner = await open_call(
        server, [faults.stuck_speech(), late_stop], shape=shape, audio=True, max_session_age_s=age
    )
    rate = 16000
    service = call.service
    try:
        await call.settle(answers=1)
        await until_the_answer_played(call)
        noise = room_noise(SILENT_TURN_MS + 30_000, rate)
        await stream_until(call, noise, rate, lambda: bool(call.down.of(UserStoppedSpeakingFrame)))
        assert call.proxy.injected[FaultKind.SPEECH_STARTED] == 1
        await assert_the_turn_given_up_ended_once(call)
        assert call.proxy.connections == 1  # nothing rotated: the session goes on
        await call.say("how are you today")  # answered; the late speech_stopped comes after it
        await call.settle(answers=2)
        assert call.proxy.injected[FaultKind.SPEECH_STOPPED] == 1
        async with asyncio.timeout(5):  # the service heard it
            while service._turn.state is not Listening.ENDED:
                await asyncio.sleep(0.01)
        await assert_the_turn_given_up_ended_once(call)  # still the one stop, each way
        await until_the_answer_played(call)
        words = resample(encode_tones(WORDS), 24000, rate)
        await speak(call, words + silence(900, rate), rate)  # the server's VAD hears a real turn
        await call.settle(answers=3)
        await call.assert_in_step_with_the_server()
        call.assert_balanced_and_clean()
    finally:
        await close_call(call, runner)
    assert_told_each_way(call, ["started", "stopped*", "started", "stopped"])
    assert said_by_the_user(call) == ["hello there", "how are you today", WORDS]
    assert call.proxy.connections == 1


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_turn_cut_by_a_drop_that_the_new_session_never_hears_still_ends_for_the_pipeline(
    server: LocalRealtimeServer, shape: str
) -> None:
    # No resend (resent_audio_ms=0): the link dies late in the user's words, and what the new session gets
    # (the rest of them, held while down) is too short for its VAD, which says neither that the user
    # started nor that they stopped. The turn the pipeline was told started goes on across the drop and,
    # quiet for SILENT_TURN_MS, ends for it once (emulated); the call goes on.
    slow = ReconnectPolicy(base_delay=0.3, max_delay=0.3, jitter=0.0)  # the user goes on talking meanwhile
    drop = DROP_POINTS["late_in_the_words"]
    call, runner = await open_call(server, [drop], shape=shape, audio=True, reconnect=slow, resent_audio_ms=0)
    rate = 16000
    try:
        await call.settle(answers=1)
        await until_the_answer_played(call)
        words = resample(encode_tones(WORDS), 24000, rate)
        await speak(call, silence(600, rate) + words + silence(900, rate), rate)
        assert call.proxy.injected[FaultKind.DROP] == 1
        noise = room_noise(SILENT_TURN_MS + 30_000, rate)
        await stream_until(call, noise, rate, lambda: bool(call.down.of(UserStoppedSpeakingFrame)))
        await call.up.wait_for(lambda: bool(call.up.of(UserStoppedSpeakingFrame)))
        await call.say("how are you today")
        await call.settle(answers=2)
        await call.assert_in_step_with_the_server()
        call.assert_balanced_and_clean()
    finally:
        await close_call(call, runner)
    assert_told_each_way(call, ["started", "stopped*"])
    assert said_by_the_user(call) == ["hello there", "how are you today"]  # the words were cut: no turn
    assert call.proxy.connections == 2

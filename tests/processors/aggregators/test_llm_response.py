"""Context aggregators: user turns, assistant responses, interruptions, function calls, context frames."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voxpipe.frames.frames import (
    Frame,
    FunctionCallCancelFrame,
    FunctionCallFromLLM,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    InterimTranscriptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMMessagesAppendFrame,
    LLMMessagesUpdateFrame,
    LLMSetToolsFrame,
    LLMTextFrame,
    StartInterruptionFrame,
    SystemFrame,
    TextFrame,
    TranscriptionFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineTask
from voxpipe.processors.aggregators import (
    LLMAssistantAggregatorParams,
    LLMAssistantContextAggregator,
    LLMContext,
    LLMUserAggregatorParams,
    LLMUserContextAggregator,
)
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor
from voxpipe.services.llm_service import FunctionCallParams, LLMService
from voxpipe.testing import run_test

DOWN, UP = FrameDirection.DOWNSTREAM, FrameDirection.UPSTREAM


def transcript(text: str) -> TranscriptionFrame:
    return TranscriptionFrame(text, user_id="u", timestamp="t")


class Recorder(FrameProcessor):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Frame, FrameDirection]] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        self.seen.append((frame, direction))
        await self.push_frame(frame, direction)

    def count(self, kind: type) -> int:
        return sum(isinstance(f, kind) for f, _ in self.seen)


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


# -- user side --------------------------------------------------------------------------------------------
async def test_user_turn_becomes_one_message_and_every_frame_passes() -> None:
    context = LLMContext()
    frames = [
        UserStartedSpeakingFrame(),
        transcript("Hello"),
        InterimTranscriptionFrame("ther"),
        transcript("there."),
        UserStoppedSpeakingFrame(),
    ]
    await run_test(
        LLMUserContextAggregator(context),
        frames_to_send=frames,
        expected_down_frames=[
            UserStartedSpeakingFrame,
            UserStoppedSpeakingFrame,  # a system frame: it overtakes the queued transcripts
            TranscriptionFrame,
            InterimTranscriptionFrame,
            TranscriptionFrame,
        ],
    )
    # The stop overtook the transcripts, yet they belong to the turn it ended.
    assert context.messages == [{"role": "user", "content": "Hello there."}]


async def test_transcripts_without_vad_are_turns_of_their_own() -> None:
    context = LLMContext()
    await run_test(LLMUserContextAggregator(context), frames_to_send=[transcript("One."), transcript("  ")])
    await run_test(LLMUserContextAggregator(context), frames_to_send=[transcript("Two.")])
    assert context.messages == [{"role": "user", "content": "One."}, {"role": "user", "content": "Two."}]


async def test_transcript_after_the_end_of_speech_is_kept() -> None:
    # A realtime server sends the transcript of a turn after speech_stopped.
    context = LLMContext()
    frames = [UserStartedSpeakingFrame(), UserStoppedSpeakingFrame(), transcript("Late words.")]
    await run_test(LLMUserContextAggregator(context), frames_to_send=frames)
    assert context.messages == [{"role": "user", "content": "Late words."}]


class RealtimeLike(FrameProcessor):
    """Turns each plain TextFrame into a transcript pushed both ways, as the realtime service does."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if type(frame) is TextFrame:
            for way in (UP, DOWN):
                await self.push_frame(transcript(frame.text), way)
        elif type(frame) in (UserStartedSpeakingFrame, UserStoppedSpeakingFrame):
            for way in (UP, DOWN):
                await self.push_frame(type(frame)(), way)
        else:
            await self.push_frame(frame, direction)


async def test_transcripts_coming_upstream_from_a_realtime_service_are_recorded_once() -> None:
    context = LLMContext()
    pair = (LLMUserContextAggregator(context), LLMAssistantContextAggregator(context))
    frames = [UserStartedSpeakingFrame(), UserStoppedSpeakingFrame(), TextFrame("What time is it?")]
    await run_test(Pipeline([pair[0], RealtimeLike(), pair[1]]), frames_to_send=frames)
    assert context.messages == [{"role": "user", "content": "What time is it?"}]


async def test_user_aggregator_pushes_a_context_frame_when_asked() -> None:
    context = LLMContext()
    aggregator = LLMUserContextAggregator(context, params=LLMUserAggregatorParams(push_context_frame=True))
    down, _ = await run_test(
        aggregator,
        frames_to_send=[transcript("Hi")],
        expected_down_frames=[TranscriptionFrame, LLMContextFrame],
    )
    assert down[1].context is context
    assert aggregator.params.push_context_frame


async def test_user_aggregator_pushes_nothing_new_by_default() -> None:
    await run_test(
        LLMUserContextAggregator(LLMContext()),
        frames_to_send=[transcript("Hi"), LLMMessagesAppendFrame(messages=[], run_llm=True)],
        expected_down_frames=[TranscriptionFrame, LLMMessagesAppendFrame],
    )


# -- assistant side ---------------------------------------------------------------------------------------
async def test_assistant_response_becomes_one_message() -> None:
    context = LLMContext()
    frames = [
        LLMFullResponseStartFrame(),
        LLMTextFrame("Hello"),
        LLMTextFrame(" world."),
        LLMFullResponseEndFrame(),
        LLMTextFrame("outside any response"),
    ]
    await run_test(
        LLMAssistantContextAggregator(context),
        frames_to_send=frames,
        expected_down_frames=[type(f) for f in frames],
    )
    assert context.messages == [{"role": "assistant", "content": "Hello world."}]


async def test_spoken_text_wins_over_model_text() -> None:
    context = LLMContext()
    frames = [
        LLMFullResponseStartFrame(),
        LLMTextFrame("Hi there"),
        TTSTextFrame("Hi "),
        TTSTextFrame("there"),
        LLMFullResponseEndFrame(),
    ]
    await run_test(LLMAssistantContextAggregator(context), frames_to_send=frames)
    assert context.messages == [{"role": "assistant", "content": "Hi there"}]


async def test_stripped_words_are_joined_with_spaces() -> None:
    context = LLMContext()
    params = LLMAssistantAggregatorParams(expect_stripped_words=True)
    frames = [
        LLMFullResponseStartFrame(),
        TTSTextFrame("Hi"),
        TTSTextFrame("there"),
        LLMFullResponseEndFrame(),
    ]
    await run_test(LLMAssistantContextAggregator(context, params=params), frames_to_send=frames)
    assert context.messages == [{"role": "assistant", "content": "Hi there"}]


async def test_interrupted_response_keeps_what_was_said() -> None:
    context = LLMContext()
    aggregator, after = LLMAssistantContextAggregator(context), Recorder()
    task = PipelineTask(Pipeline([aggregator, after]), idle_timeout_secs=None, enable_turn_tracking=False)
    runner = asyncio.create_task(task.run())
    await task.queue_frames([LLMFullResponseStartFrame(), TTSTextFrame("I was"), TTSTextFrame(" saying")])
    await wait_for(lambda: after.count(TTSTextFrame) == 2)
    await task.queue_frame(StartInterruptionFrame())
    await wait_for(lambda: after.count(StartInterruptionFrame) == 1)
    # What the cancelled response still sends after the interruption is not part of the message.
    await task.queue_frames([TTSTextFrame(" something else"), LLMFullResponseEndFrame()])
    await task.stop_when_done()
    await runner
    assert context.messages == [{"role": "assistant", "content": "I was saying"}]


async def test_function_call_and_result_are_recorded() -> None:
    context = LLMContext([{"role": "user", "content": "Weather in Paris?"}])
    frames = [
        FunctionCallInProgressFrame(
            function_name="get_weather", tool_call_id="c1", arguments={"location": "Paris"}
        ),
        FunctionCallResultFrame(
            function_name="get_weather",
            tool_call_id="c1",
            arguments={"location": "Paris"},
            result={"sky": "clear"},
        ),
    ]
    await run_test(LLMAssistantContextAggregator(context), frames_to_send=frames)
    assistant, tool = context.messages[1:]
    assert assistant["role"] == "assistant"
    assert assistant["tool_calls"][0]["id"] == "c1"
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"location": "Paris"}
    assert tool["role"] == "tool" and tool["tool_call_id"] == "c1"
    assert json.loads(tool["content"]) == {"sky": "clear"}


async def test_cancelled_call_is_marked_cancelled() -> None:
    context = LLMContext()
    frames = [
        FunctionCallInProgressFrame(function_name="f", tool_call_id="c1", arguments={}),
        FunctionCallCancelFrame(function_name="f", tool_call_id="c1"),
        FunctionCallCancelFrame(function_name="f", tool_call_id="unknown"),
    ]
    await run_test(LLMAssistantContextAggregator(context), frames_to_send=frames)
    assert context.messages[1] == {"role": "tool", "content": "CANCELLED", "tool_call_id": "c1"}
    assert len(context.messages) == 2


async def test_function_result_can_ask_for_a_context_frame_upstream() -> None:
    params = LLMAssistantAggregatorParams(push_context_frame_on_function_result=True)
    result = {"function_name": "f", "tool_call_id": "c", "arguments": {}, "result": 1}
    await run_test(
        LLMAssistantContextAggregator(LLMContext(), params=params),
        frames_to_send=[
            FunctionCallResultFrame(**result),
            FunctionCallResultFrame(**{**result, "tool_call_id": "d"}, run_llm=False),
        ],
        expected_up_frames=[LLMContextFrame],
    )


# -- both sides -------------------------------------------------------------------------------------------
async def test_messages_append_is_applied_once_per_context() -> None:
    context = LLMContext()
    user, assistant = LLMUserContextAggregator(context), LLMAssistantContextAggregator(context)
    new = [{"role": "user", "content": "Remember this."}]
    tools = [{"type": "function", "name": "f"}]
    frames = [LLMMessagesAppendFrame(messages=new), LLMSetToolsFrame(tools=tools)]
    down, _ = await run_test(Pipeline([user, assistant]), frames_to_send=frames)
    assert context.messages == new
    assert context.tools == tools
    assert [type(f) for f in down] == [LLMMessagesAppendFrame, LLMSetToolsFrame]
    replaced = [{"role": "system", "content": "Fresh start."}]
    await run_test(
        LLMAssistantContextAggregator(context), frames_to_send=[LLMMessagesUpdateFrame(messages=replaced)]
    )
    assert context.messages == replaced


@dataclass(slots=True, kw_only=True)
class CallFunctions(SystemFrame):
    calls: list[FunctionCallFromLLM]


class ScriptedLLM(LLMService):
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, CallFunctions):
            await self.run_function_calls(frame.calls)
        else:
            await self.push_frame(frame, direction)


async def test_pair_around_a_service_records_a_whole_exchange_once() -> None:
    llm = ScriptedLLM()
    done = asyncio.Event()

    async def get_weather(params: FunctionCallParams) -> None:
        await params.result_callback({"sky": "clear"})
        done.set()

    llm.register_function("get_weather", get_weather)
    context = LLMContext(system="Be brief.")
    pair = llm.create_context_aggregator(context)
    after = Recorder()
    task = PipelineTask(
        Pipeline([pair.user(), llm, pair.assistant(), after]),
        idle_timeout_secs=None,
        enable_turn_tracking=False,
    )
    runner = asyncio.create_task(task.run())
    await task.queue_frames([UserStartedSpeakingFrame(), transcript("Weather?"), UserStoppedSpeakingFrame()])
    await wait_for(lambda: len(context.messages) == 1)
    call = FunctionCallFromLLM(function_name="get_weather", tool_call_id="c9", arguments={"location": "Oslo"})
    await task.queue_frame(CallFunctions(calls=[call]))
    await wait_for(lambda: after.count(FunctionCallResultFrame) == 1)
    answer: list[Any] = [LLMFullResponseStartFrame(), LLMTextFrame("Clear skies."), LLMFullResponseEndFrame()]
    await task.queue_frames(answer)
    await task.stop_when_done()
    await runner
    assert done.is_set()
    roles = [m["role"] for m in context.messages]
    assert roles == ["user", "assistant", "tool", "assistant"]
    assert json.loads(context.messages[2]["content"]) == {"sky": "clear"}
    assert context.messages[3]["content"] == "Clear skies."

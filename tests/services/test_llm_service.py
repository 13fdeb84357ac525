"""LLMService function calling: dispatch, parallelism, results, errors, timeouts, interruption, metrics.

The service runs in a real pipeline between two recorders; a test-only system frame asks it to run
function calls, as a provider's receive loop would. Order and concurrency are checked through events,
never through wall-clock bounds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from voxpipe.errors import VoxpipeUsageError
from voxpipe.frames.frames import (
    ErrorFrame,
    Frame,
    FunctionCallCancelFrame,
    FunctionCallFromLLM,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    FunctionCallResultProperties,
    FunctionCallsStartedFrame,
    MetricsFrame,
    StartInterruptionFrame,
    SystemFrame,
)
from voxpipe.metrics.metrics import FunctionCallMetricsData
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.pipeline.task import PipelineParams, PipelineTask
from voxpipe.processors.aggregators import LLMContext, LLMContextAggregatorPair
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor
from voxpipe.services.llm_service import FunctionCallParams, LLMService

DOWN, UP = FrameDirection.DOWNSTREAM, FrameDirection.UPSTREAM


@dataclass(slots=True, kw_only=True)
class CallFunctions(SystemFrame):
    """Test-only: asks the service to run these calls, as a model's response would."""

    calls: list[FunctionCallFromLLM]


class Recorder(FrameProcessor):
    def __init__(self, name: str) -> None:
        super().__init__(name=name)
        self.seen: list[tuple[Frame, FrameDirection]] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        self.seen.append((frame, direction))
        await self.push_frame(frame, direction)

    def of(self, kind: type, direction: FrameDirection) -> list[Any]:
        return [f for f, d in self.seen if isinstance(f, kind) and d is direction]


class ScriptedLLM(LLMService):
    """A service whose 'model' asks for the calls in each CallFunctions frame."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hooked: list[FunctionCallResultFrame] = []
        self.pushed_before_hook: list[int] = []
        self.after: Recorder | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, CallFunctions):
            await self.run_function_calls(frame.calls)
            return
        await self.push_frame(frame, direction)

    async def on_function_call_result(self, frame: FunctionCallResultFrame) -> None:
        self.hooked.append(frame)
        if self.after is not None:
            self.pushed_before_hook.append(len(self.after.of(FunctionCallResultFrame, DOWN)))


class Harness:
    def __init__(self, llm: ScriptedLLM, params: PipelineParams | None = None) -> None:
        self.llm = llm
        self.before, self.after = Recorder("before"), Recorder("after")
        llm.after = self.after
        self.task = PipelineTask(
            Pipeline([self.before, llm, self.after]),
            params=params,
            idle_timeout_secs=None,
            enable_turn_tracking=False,
        )

    async def __aenter__(self) -> Harness:
        self.runner = asyncio.create_task(self.task.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.task.stop_when_done()
        await asyncio.wait_for(self.runner, 10)

    async def call(self, *calls: FunctionCallFromLLM) -> None:
        await self.task.queue_frame(CallFunctions(calls=list(calls)))

    def results(self, direction: FrameDirection = DOWN) -> list[FunctionCallResultFrame]:
        return (
            self.after.of(FunctionCallResultFrame, DOWN)
            if direction is DOWN
            else self.before.of(FunctionCallResultFrame, UP)
        )

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.001)


def call(name: str, call_id: str, **arguments: Any) -> FunctionCallFromLLM:
    return FunctionCallFromLLM(function_name=name, tool_call_id=call_id, arguments=arguments)


async def test_calls_are_announced_both_ways_then_results_pushed_both_ways() -> None:
    llm = ScriptedLLM()

    async def get_weather(params: FunctionCallParams) -> None:
        assert params.llm is llm
        await params.result_callback({"location": params.arguments["location"], "sky": "clear"})

    llm.register_function("get_weather", get_weather)
    async with Harness(llm) as h:
        await h.call(call("get_weather", "c1", location="Paris"))
        await h.wait_for(lambda: len(h.results(DOWN)) == 1 and len(h.results(UP)) == 1)
    for recorder, direction in ((h.after, DOWN), (h.before, UP)):
        kinds = [
            type(f) for f, d in recorder.seen if d is direction and type(f).__name__.startswith("Function")
        ]
        assert kinds == [FunctionCallsStartedFrame, FunctionCallInProgressFrame, FunctionCallResultFrame]
    [result] = h.results(DOWN)
    assert result.result == {"location": "Paris", "sky": "clear"}
    assert (result.function_name, result.tool_call_id, result.arguments) == (
        "get_weather",
        "c1",
        {"location": "Paris"},
    )
    [progress] = h.after.of(FunctionCallInProgressFrame, DOWN)
    assert progress.cancel_on_interruption is True
    assert h.results(UP)[0] is not result  # one frame per direction
    assert llm.running_function_calls == ()


async def test_handlers_run_in_parallel_and_results_come_in_completion_order() -> None:
    llm = ScriptedLLM()
    entered = {"slow": asyncio.Event(), "fast": asyncio.Event()}
    release = {"slow": asyncio.Event(), "fast": asyncio.Event()}

    async def handler(params: FunctionCallParams) -> None:
        name = params.arguments["which"]
        entered[name].set()
        await release[name].wait()
        await params.result_callback(name)

    llm.register_function("work", handler)
    async with Harness(llm) as h:
        await h.call(call("work", "a", which="slow"), call("work", "b", which="fast"))
        # Both handlers are running at once: neither waits for the other to finish.
        await h.wait_for(lambda: entered["slow"].is_set() and entered["fast"].is_set())
        assert set(llm.running_function_calls) == {"a", "b"}
        release["fast"].set()
        await h.wait_for(lambda: len(h.results()) == 1)
        release["slow"].set()
        await h.wait_for(lambda: len(h.results()) == 2)
    assert [r.result for r in h.results()] == ["fast", "slow"]
    # Only the last result of the batch lets the model answer.
    assert [r.run_llm for r in h.results()] == [False, None]


async def test_run_function_calls_returns_before_handlers_finish() -> None:
    llm = ScriptedLLM()
    release = asyncio.Event()

    async def blocked(params: FunctionCallParams) -> None:
        await release.wait()
        await params.result_callback("done")

    llm.register_function("blocked", blocked)
    async with Harness(llm) as h:
        await h.wait_for(lambda: h.after.seen != [])  # started
        await llm.run_function_calls([call("blocked", "x")])  # from the test's own task, like a receive loop
        assert llm.running_function_calls == ("x",)
        release.set()
        await h.wait_for(lambda: len(h.results()) == 1)


async def test_catch_all_handles_every_unregistered_function() -> None:
    llm = ScriptedLLM()
    seen: list[str] = []

    async def anything(params: FunctionCallParams) -> None:
        seen.append(params.function_name)
        await params.result_callback({"handled": params.function_name})

    async def specific(params: FunctionCallParams) -> None:
        await params.result_callback("specific")

    llm.register_function(None, anything)
    llm.register_function("known", specific)
    assert llm.has_function("whatever")
    async with Harness(llm) as h:
        await h.call(call("whatever", "1"), call("known", "2"))
        await h.wait_for(lambda: len(h.results()) == 2)
    assert seen == ["whatever"]
    assert {r.tool_call_id: r.result for r in h.results()} == {"1": {"handled": "whatever"}, "2": "specific"}


async def test_unknown_function_gets_an_error_result_and_a_warning(caplog) -> None:
    llm = ScriptedLLM()
    assert not llm.has_function("nope")
    with caplog.at_level(logging.WARNING, logger="voxpipe.services.llm_service"):
        async with Harness(llm) as h:
            await h.call(call("nope", "u1"))
            await h.wait_for(lambda: len(h.results()) == 1)
    assert h.results()[0].result == {"error": "function nope is not registered"}
    assert llm.hooked[0].result == {"error": "function nope is not registered"}
    assert any("nope" in r.getMessage() and "not registered" in r.getMessage() for r in caplog.records)
    assert h.after.of(FunctionCallInProgressFrame, DOWN)[0].cancel_on_interruption is False


async def test_handler_exception_becomes_error_result_and_nonfatal_error_frame(caplog) -> None:
    llm = ScriptedLLM()

    async def broken(params: FunctionCallParams) -> None:
        raise ValueError("no such city")

    llm.register_function("broken", broken)
    with caplog.at_level(logging.CRITICAL):
        async with Harness(llm) as h:
            await h.call(call("broken", "e1"))
            await h.wait_for(lambda: len(h.results()) == 1 and h.before.of(ErrorFrame, UP) != [])
    assert h.results()[0].result == {"error": "ValueError: no such city"}
    [error] = h.before.of(ErrorFrame, UP)
    assert error.fatal is False
    assert isinstance(error.exception, ValueError)
    assert h.task.has_finished()  # ended by stop_when_done, not by the error


async def test_timeout_cancels_the_handler_and_reports_it_to_the_model(caplog) -> None:
    llm = ScriptedLLM()
    cancelled = asyncio.Event()

    async def hangs(params: FunctionCallParams) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    llm.register_function("hangs", hangs, timeout_secs=0.05)
    with caplog.at_level(logging.ERROR):
        async with Harness(llm) as h:
            await h.call(call("hangs", "t1"))
            await h.wait_for(lambda: len(h.results()) == 1)
    assert cancelled.is_set()
    assert h.results()[0].result == {"error": "timed out after 0.05 s"}


async def test_service_wide_default_timeout_applies() -> None:
    llm = ScriptedLLM(function_call_timeout_secs=0.02)

    async def hangs(params: FunctionCallParams) -> None:
        await asyncio.Event().wait()

    llm.register_function("hangs", hangs)
    async with Harness(llm) as h:
        await h.call(call("hangs", "t1"))
        await h.wait_for(lambda: len(h.results()) == 1)
    assert h.results()[0].result == {"error": "timed out after 0.02 s"}


async def test_interruption_cancels_only_interruptible_calls() -> None:
    llm = ScriptedLLM()
    entered = {"f": asyncio.Event(), "g": asyncio.Event()}
    cancelled: list[str] = []
    release_g = asyncio.Event()

    async def handler(params: FunctionCallParams) -> None:
        entered[params.function_name].set()
        try:
            if params.function_name == "g":
                await release_g.wait()
            else:
                await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(params.function_name)
            raise
        await params.result_callback(f"{params.function_name} done")

    llm.register_function("f", handler)  # cancel_on_interruption defaults to True
    llm.register_function("g", handler, cancel_on_interruption=False)
    async with Harness(llm) as h:
        await h.call(call("f", "1"), call("g", "2"))
        await h.wait_for(lambda: entered["f"].is_set() and entered["g"].is_set())
        await h.task.queue_frame(StartInterruptionFrame())
        await h.wait_for(lambda: h.after.of(FunctionCallCancelFrame, DOWN) != [])
        assert cancelled == ["f"]
        assert llm.running_function_calls == ("2",)
        release_g.set()
        await h.wait_for(lambda: len(h.results()) == 1)
    [cancel] = h.after.of(FunctionCallCancelFrame, DOWN)
    assert (cancel.function_name, cancel.tool_call_id) == ("f", "1")
    assert h.before.of(FunctionCallCancelFrame, UP)[0].tool_call_id == "1"
    assert [r.result for r in h.results()] == ["g done"]
    assert [f.tool_call_id for f in llm.hooked] == ["2"]


async def test_second_result_is_logged_and_ignored(caplog) -> None:
    llm = ScriptedLLM()

    async def twice(params: FunctionCallParams) -> None:
        await params.result_callback("first")
        await params.result_callback("second")

    llm.register_function("twice", twice)
    with caplog.at_level(logging.WARNING, logger="voxpipe.services.llm_service"):
        async with Harness(llm) as h:
            await h.call(call("twice", "d1"))
            await h.wait_for(lambda: len(h.results()) == 1)
            await asyncio.sleep(0.02)  # room for a wrong second push to show up
    assert [r.result for r in h.results()] == ["first"]
    assert any("arrived while the call is" in r.getMessage() for r in caplog.records)


async def test_hook_runs_before_push_and_properties_reach_the_frame() -> None:
    order: list[str] = []

    class Tracing(ScriptedLLM):
        async def on_function_call_result(self, frame: FunctionCallResultFrame) -> None:
            await super().on_function_call_result(frame)
            order.append("hook")

        async def push_frame(self, frame: Frame, direction: FrameDirection = DOWN) -> None:
            if isinstance(frame, FunctionCallResultFrame):
                order.append(f"push {direction.name.lower()}")
            await super().push_frame(frame, direction)

    llm = Tracing()

    async def on_context_updated() -> None:
        order.append("context updated")

    async def handler(params: FunctionCallParams) -> None:
        properties = FunctionCallResultProperties(run_llm=False, on_context_updated=on_context_updated)
        await params.result_callback({"ok": True}, properties=properties)
        order.append("callback returned")

    llm.register_function("f", handler)
    async with Harness(llm) as h:
        await h.call(call("f", "p1"))
        await h.wait_for(lambda: "callback returned" in order)
    assert order == ["hook", "push downstream", "push upstream", "context updated", "callback returned"]
    assert llm.pushed_before_hook == [0]
    assert h.results()[0].run_llm is False
    assert llm.hooked[0].result == {"ok": True}


async def test_failing_hook_is_reported_and_the_result_still_pushed(caplog) -> None:
    class Failing(ScriptedLLM):
        async def on_function_call_result(self, frame: FunctionCallResultFrame) -> None:
            raise ConnectionError("socket closed")

    llm = Failing()

    async def handler(params: FunctionCallParams) -> None:
        await params.result_callback(1)

    llm.register_function("f", handler)
    with caplog.at_level(logging.CRITICAL):
        async with Harness(llm) as h:
            await h.call(call("f", "h1"))
            await h.wait_for(lambda: len(h.results()) == 1 and h.before.of(ErrorFrame, UP) != [])
    assert "on_function_call_result failed" in h.before.of(ErrorFrame, UP)[0].error


async def test_metrics_frame_when_metrics_are_enabled() -> None:
    llm = ScriptedLLM()
    assert llm.can_generate_metrics()
    llm.set_metrics_model("test-model")

    async def handler(params: FunctionCallParams) -> None:
        await params.result_callback("ok")

    llm.register_function("f", handler)
    async with Harness(llm, PipelineParams(enable_metrics=True)) as h:
        await h.call(call("f", "m1"), call("missing", "m2"))
        await h.wait_for(lambda: len(h.after.of(MetricsFrame, DOWN)) == 2)
    data = {d.tool_call_id: d for f in h.after.of(MetricsFrame, DOWN) for d in f.data}
    assert all(isinstance(d, FunctionCallMetricsData) for d in data.values())
    assert data["m1"].function_name == "f" and data["m1"].error is None and data["m1"].value >= 0
    assert data["m1"].model == "test-model" and data["m1"].processor == llm.name
    assert data["m2"].error == "function missing is not registered"


async def test_no_metrics_frame_when_metrics_are_disabled() -> None:
    llm = ScriptedLLM()

    async def handler(params: FunctionCallParams) -> None:
        await params.result_callback("ok")

    llm.register_function("f", handler)
    async with Harness(llm) as h:
        await h.call(call("f", "m1"))
        await h.wait_for(lambda: len(h.results()) == 1)
    assert h.after.of(MetricsFrame, DOWN) == []


async def test_legacy_six_argument_handler() -> None:
    llm = ScriptedLLM()
    got: list[Any] = []

    async def legacy(function_name, tool_call_id, args, llm_service, context, result_callback) -> None:
        got.extend([function_name, tool_call_id, args, llm_service])
        await result_callback({"legacy": True})

    llm.register_function("old", legacy)
    async with Harness(llm) as h:
        await h.call(call("old", "l1", x=1))
        await h.wait_for(lambda: len(h.results()) == 1)
    assert got == ["old", "l1", {"x": 1}, llm]
    assert h.results()[0].result == {"legacy": True}


async def test_repeated_tool_call_id_is_ignored(caplog) -> None:
    llm = ScriptedLLM()
    release = asyncio.Event()
    runs: list[str] = []

    async def handler(params: FunctionCallParams) -> None:
        runs.append(params.tool_call_id)
        await release.wait()
        await params.result_callback("ok")

    llm.register_function("f", handler)
    with caplog.at_level(logging.WARNING, logger="voxpipe.services.llm_service"):
        async with Harness(llm) as h:
            await h.call(call("f", "same"))
            await h.wait_for(lambda: runs == ["same"])
            await h.call(call("f", "same"))
            await h.wait_for(lambda: any("already running" in r.getMessage() for r in caplog.records))
            release.set()
            await h.wait_for(lambda: len(h.results()) == 1)
    assert runs == ["same"]
    assert len(h.after.of(FunctionCallsStartedFrame, DOWN)) == 1


async def test_ending_the_run_cancels_running_handlers_without_leaks() -> None:
    llm = ScriptedLLM()
    entered, cancelled = asyncio.Event(), asyncio.Event()

    async def hangs(params: FunctionCallParams) -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    llm.register_function("hangs", hangs)
    async with Harness(llm) as h:
        await h.call(call("hangs", "z"))
        await entered.wait()
    assert cancelled.is_set()
    await asyncio.sleep(0)
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    assert leftover == []


def test_registration_is_checked() -> None:
    llm = ScriptedLLM()

    async def handler(params: FunctionCallParams) -> None: ...

    async def two_args(a, b) -> None: ...

    with pytest.raises(VoxpipeUsageError, match="invalid function name"):
        llm.register_function("bad name", handler)
    with pytest.raises(VoxpipeUsageError, match="must be callable"):
        llm.register_function("f", "handler")  # type: ignore[arg-type]
    with pytest.raises(VoxpipeUsageError, match="one argument"):
        llm.register_function("f", two_args)
    with pytest.raises(VoxpipeUsageError, match="positive"):
        llm.register_function("f", handler, timeout_secs=0)
    with pytest.raises(VoxpipeUsageError, match="positive"):
        ScriptedLLM(function_call_timeout_secs=-1)
    llm.register_function("f", handler)
    assert llm.has_function("f") and not llm.has_function("g")
    llm.unregister_function("f")
    assert not llm.has_function("f")
    with pytest.raises(VoxpipeUsageError, match="no function 'f' is registered"):
        llm.unregister_function("f")


def test_create_context_aggregator_shares_the_context() -> None:
    context = LLMContext(messages=[{"role": "system", "content": "Be brief."}])
    pair = ScriptedLLM().create_context_aggregator(context)
    assert isinstance(pair, LLMContextAggregatorPair)
    assert pair.user().context is context and pair.assistant().context is context
    user, assistant = pair
    assert user is pair.user() and assistant is pair.assistant()


async def test_spec_function_calling_sample_up_to_the_realtime_service() -> None:
    # The spec's sample, imports renamed; the realtime service is replaced by the base it builds on.
    from voxpipe.adapters import to_openai_realtime_tools
    from voxpipe.adapters.schemas.function_schema import FunctionSchema
    from voxpipe.adapters.schemas.tools_schema import ToolsSchema

    weather_function = FunctionSchema(
        name="get_weather",
        description="Get weather information",
        properties={"location": {"type": "string"}},
        required=["location"],
    )
    tools = ToolsSchema(standard_tools=[weather_function])

    async def fetch_weather_from_api(params: FunctionCallParams) -> None:
        await params.result_callback({"conditions": "sunny", "location": params.arguments["location"]})

    llm = ScriptedLLM()  # stands in for OpenAIRealtimeBetaLLMService(api_key=..., session_properties=...)
    llm.register_function("get_weather", fetch_weather_from_api)

    # What the realtime service sends as session.tools:
    assert to_openai_realtime_tools(tools) == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Get weather information",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
        }
    ]
    async with Harness(llm) as h:
        await h.call(call("get_weather", "call_1", location="Rome"))
        await h.wait_for(lambda: len(h.results()) == 1)
    assert llm.hooked[0].result == {"conditions": "sunny", "location": "Rome"}


async def test_handler_properties_override_the_batch_default_and_event_fires() -> None:
    llm = ScriptedLLM()
    started: list[list[str]] = []
    release = asyncio.Event()

    @llm.event_handler("on_function_calls_started")
    async def on_started(service: LLMService, calls: list[FunctionCallFromLLM]) -> None:
        started.append([c.tool_call_id for c in calls])

    async def eager(params: FunctionCallParams) -> None:
        await params.result_callback("now", properties=FunctionCallResultProperties(run_llm=True))

    async def slow(params: FunctionCallParams) -> None:
        await release.wait()
        await params.result_callback("later")

    llm.register_function("eager", eager)
    llm.register_function("slow", slow)
    async with Harness(llm) as h:
        await h.call(call("eager", "e"), call("slow", "s"))
        await h.wait_for(lambda: len(h.results()) == 1)
        assert llm.running_function_calls == ("s",)
        release.set()
        await h.wait_for(lambda: len(h.results()) == 2)
    assert [(r.tool_call_id, r.run_llm) for r in h.results()] == [("e", True), ("s", None)]
    assert started == [["e", "s"]]


async def test_exception_after_the_result_only_reports_the_error(caplog) -> None:
    llm = ScriptedLLM()

    def sync_then_raise(params: FunctionCallParams) -> Any:
        async def run() -> None:
            await params.result_callback("delivered")
            raise RuntimeError("cleanup failed")

        return run()  # a sync callable returning an awaitable is accepted too

    llm.register_function("f", sync_then_raise)
    with caplog.at_level(logging.CRITICAL):
        async with Harness(llm) as h:
            await h.call(call("f", "r1"))
            await h.wait_for(lambda: h.before.of(ErrorFrame, UP) != [])
    assert [r.result for r in h.results()] == ["delivered"]
    assert "cleanup failed" in h.before.of(ErrorFrame, UP)[0].error

"""``LLMService``: the base of language-model services, and the home of function calling.

A service subclass talks to a model; when the model asks for function calls, the subclass hands them to
:meth:`LLMService.run_function_calls`, which does the rest:

1. pushes :class:`FunctionCallsStartedFrame` and, per call, :class:`FunctionCallInProgressFrame` (both
   directions, so the context aggregators on either side see them);
2. runs every handler at once, each in a task owned by the service, and returns without waiting for them
   (it is often called from the service's own receive loop, which must keep reading);
3. when a handler gives its result (``await params.result_callback(result)``, once), calls the
   subclass hook :meth:`LLMService.on_function_call_result` (the realtime service sends the output to the
   server there), pushes :class:`FunctionCallResultFrame` both ways, reports the call's time in metrics,
   then awaits ``properties.on_context_updated``.

The model always gets an answer: an unknown function, a handler that raises and a handler that times out
all produce a result ``{"error": "..."}`` through the same path. Only an interruption (for calls
registered with ``cancel_on_interruption``) ends a call without a result; a
:class:`FunctionCallCancelFrame` says so.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any

from voxpipe.errors import VoxpipeUsageError
from voxpipe.frames.base import Frame
from voxpipe.frames.llm import (
    FunctionCallCancelFrame,
    FunctionCallFromLLM,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    FunctionCallResultProperties,
    FunctionCallsStartedFrame,
)
from voxpipe.frames.speech import StartInterruptionFrame
from voxpipe.processors.aggregators.llm_context import LLMContext
from voxpipe.processors.aggregators.llm_response import (
    LLMAssistantAggregatorParams,
    LLMAssistantContextAggregator,
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
    LLMUserContextAggregator,
)
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor
from voxpipe.services._function_calls import (
    CallState,
    FunctionCallHandler,
    FunctionCallParams,
    FunctionCallResultCallback,
    FunctionCallRun,
    FunctionRegistration,
    check_timeout,
)

__all__ = ["FunctionCallHandler", "FunctionCallParams", "FunctionCallResultCallback", "LLMService"]

logger = logging.getLogger(__name__)


class LLMService(FrameProcessor):
    """Base class of language-model services: function registration and dispatch, context aggregators.

    ``process_frame`` here only reacts to :class:`StartInterruptionFrame` (cancelling interruptible calls)
    and, like pipecat's, pushes nothing itself: a subclass that overrides ``process_frame`` calls
    ``await super().process_frame(frame, direction)`` first and then pushes what it wants; a subclass that
    declares ``@frame_handler`` methods instead gets the core's default of passing unhandled frames on.

    Events:
        ``on_function_calls_started(service, calls)``: the model asked for ``calls``; they are starting.

    Args:
        function_call_timeout_secs: default timeout of every handler (None: no timeout); a registration's
            own ``timeout_secs`` wins.
        **kwargs: passed to :class:`FrameProcessor` (``name``).
    """

    def __init__(self, *, function_call_timeout_secs: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._register_event_handler("on_function_calls_started")
        self._functions: dict[str | None, FunctionRegistration] = {}
        self._calls: dict[str, FunctionCallRun] = {}
        self._function_call_timeout_secs = check_timeout(function_call_timeout_secs)

    # -- registration -----------------------------------------------------------------------------------
    def register_function(
        self,
        function_name: str | None,
        handler: Callable[..., Any],
        *,
        cancel_on_interruption: bool = True,
        timeout_secs: float | None = None,
    ) -> None:
        """Register the handler of a function; registering a name again replaces its handler.

        Args:
            function_name: the function's name, or None for a catch-all that handles every function
                without a handler of its own.
            handler: ``async def handler(params: FunctionCallParams) -> None``. pipecat's legacy form
                ``async def handler(function_name, tool_call_id, args, llm, context, result_callback)``
                is recognised by its six parameters and works too.
            cancel_on_interruption: cancel running calls when the user interrupts; the model then gets
                no result for them.
            timeout_secs: cancel the handler after this long and send the model a timeout error.

        Raises:
            VoxpipeUsageError: the name is invalid, the handler is not callable or takes neither one
                argument nor six, or the timeout is not positive.
        """
        registration = FunctionRegistration.create(
            function_name, handler, cancel_on_interruption=cancel_on_interruption, timeout_secs=timeout_secs
        )
        if function_name in self._functions:
            logger.debug("%s: replaced the handler of function %s", self, function_name or "<catch-all>")
        self._functions[function_name] = registration

    def unregister_function(self, function_name: str | None) -> None:
        """Remove the handler of ``function_name`` (None: the catch-all); running calls go on.

        Raises:
            VoxpipeUsageError: no handler is registered under that name.
        """
        if self._functions.pop(function_name, None) is None:
            known = ", ".join(sorted(name for name in self._functions if name is not None)) or "none"
            raise VoxpipeUsageError(f"no function {function_name!r} is registered; registered: {known}")

    def has_function(self, function_name: str) -> bool:
        """Whether a call of ``function_name`` would find a handler (its own or the catch-all)."""
        return function_name in self._functions or None in self._functions

    @property
    def running_function_calls(self) -> tuple[str, ...]:
        """The tool-call ids of the calls whose handlers have not given a result yet (nor been cancelled).

        A service that dispatches calls one at a time reads it in :meth:`on_function_call_result` to
        answer only after the last result.
        """
        return tuple(call_id for call_id, run in self._calls.items() if run.state is CallState.RUNNING)

    # -- dispatch ---------------------------------------------------------------------------------------
    async def run_function_calls(self, calls: Sequence[FunctionCallFromLLM]) -> None:
        """Announce ``calls`` and start their handlers, all in parallel; return without waiting for them.

        Safe to call from the service's own background tasks (a websocket receive loop): it only pushes
        system frames and creates tasks. A call whose ``tool_call_id`` is already running is ignored, with
        a warning. Emits ``on_function_calls_started(service, calls)``.
        """
        calls = [call for call in calls if self._is_new_call(call)]
        if not calls:
            return
        for direction in FrameDirection:
            await self.push_frame(FunctionCallsStartedFrame(function_calls=list(calls)), direction)
        await self._call_event_handler("on_function_calls_started", list(calls))
        batch: list[FunctionCallRun] = []
        for call in calls:
            registration = self._functions.get(call.function_name) or self._functions.get(None)
            run = FunctionCallRun(call=call, registration=registration, batch=batch)
            batch.append(run)
            self._calls[call.tool_call_id] = run
            for direction in FrameDirection:
                frame = FunctionCallInProgressFrame(
                    function_name=call.function_name,
                    tool_call_id=call.tool_call_id,
                    arguments=call.arguments,
                    cancel_on_interruption=run.cancel_on_interruption,
                )
                await self.push_frame(frame, direction)
            run.task = self.create_task(self._run_call(run), name=f"function_call.{call.tool_call_id}")

    def _is_new_call(self, call: FunctionCallFromLLM) -> bool:
        if call.tool_call_id in self._calls:
            logger.warning(
                "%s: function call %s is already running; ignored the repeat", self, call.tool_call_id
            )
            return False
        return True

    async def _run_call(self, run: FunctionCallRun) -> None:
        """The task of one call: run its handler, turning failures and timeouts into results."""
        call, registration = run.call, run.registration
        if registration is None:
            logger.warning("%s: the model called %s, which is not registered", self, call.function_name)
            message = f"function {call.function_name} is not registered"
            await self._submit(run, {"error": message}, error=message)
            return
        params = FunctionCallParams(
            function_name=call.function_name,
            tool_call_id=call.tool_call_id,
            arguments=call.arguments,
            llm=self,
            context=call.context,
            result_callback=functools.partial(self._result_callback, run),
        )
        timeout = registration.timeout_secs or self._function_call_timeout_secs
        scope = asyncio.timeout(timeout)
        try:
            async with scope:
                await registration.invoke(params)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, TimeoutError) and scope.expired():
                await self._on_call_timeout(run, timeout or 0.0)
            else:
                await self._on_call_error(run, exc)
        else:
            if run.state is CallState.RUNNING and logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "%s: handler of %s (%s) returned without a result; waiting for its result_callback",
                    self,
                    call.function_name,
                    call.tool_call_id,
                )

    async def _on_call_timeout(self, run: FunctionCallRun, timeout: float) -> None:
        if run.state is not CallState.RUNNING:
            return  # the result arrived just in time; its delivery goes on
        logger.warning(
            "%s: function %s (%s) timed out after %g s",
            self,
            run.call.function_name,
            run.call.tool_call_id,
            timeout,
        )
        message = f"timed out after {timeout:g} s"
        await self._submit(run, {"error": message}, error=message)

    async def _on_call_error(self, run: FunctionCallRun, exc: Exception) -> None:
        logger.error(
            "%s: function %s (%s) failed", self, run.call.function_name, run.call.tool_call_id, exc_info=exc
        )
        if run.state is CallState.RUNNING:
            message = f"{type(exc).__name__}: {exc}"
            await self._submit(run, {"error": message}, error=message)
        await self.push_error(
            f"function {run.call.function_name} failed: {type(exc).__name__}: {exc}",
            exception=exc,
            fatal=False,
        )

    async def _result_callback(
        self,
        run: FunctionCallRun,
        result: Any,
        *,
        properties: FunctionCallResultProperties | None = None,
    ) -> None:
        if run.state is not CallState.RUNNING:
            logger.warning(
                "%s: a result of function %s (%s) arrived while the call is %s; ignored",
                self,
                run.call.function_name,
                run.call.tool_call_id,
                run.state.value,
            )
            return
        await self._submit(run, result, properties)

    async def _submit(
        self,
        run: FunctionCallRun,
        result: Any,
        properties: FunctionCallResultProperties | None = None,
        *,
        error: str | None = None,
    ) -> None:
        """Deliver the call's one result in a task of its own, so that cancelling the handler's task (a
        timeout, an interruption, the handler's caller) can never cut a delivery in half."""
        run.set_state(CallState.DELIVERING)
        run_llm = properties.run_llm if properties is not None else None
        if run_llm is None:
            run_llm = run.default_run_llm()
        delivery = self.create_task(
            self._deliver(run, result, properties, run_llm, error), name=f"result.{run.call.tool_call_id}"
        )
        await asyncio.shield(delivery)

    async def _deliver(
        self,
        run: FunctionCallRun,
        result: Any,
        properties: FunctionCallResultProperties | None,
        run_llm: bool | None,
        error: str | None,
    ) -> None:
        call = run.call
        frames = [
            FunctionCallResultFrame(
                function_name=call.function_name,
                tool_call_id=call.tool_call_id,
                arguments=call.arguments,
                result=result,
                run_llm=run_llm,
                properties=properties,
            )
            for _ in FrameDirection
        ]
        await self._guarded("on_function_call_result", self.on_function_call_result, frames[0])
        for frame, direction in zip(frames, FrameDirection, strict=True):
            await self.push_frame(frame, direction)
        run.set_state(CallState.DONE)
        self._calls.pop(call.tool_call_id, None)
        await self._push_call_metrics(run, error)
        if properties is not None and properties.on_context_updated is not None:
            await self._guarded("on_context_updated", properties.on_context_updated)

    async def _guarded(self, what: str, callback: Callable[..., Any], *args: Any) -> None:
        """Run a user or subclass callback (sync or async); a failure is reported, never lost, never fatal."""
        try:
            outcome = callback(*args)
            if inspect.isawaitable(outcome):
                await outcome
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.error("%s: %s failed", self, what, exc_info=exc)
            await self.push_error(f"{what} failed: {type(exc).__name__}: {exc}", exception=exc, fatal=False)

    # -- hooks for subclasses ---------------------------------------------------------------------------
    async def on_function_call_result(self, frame: FunctionCallResultFrame) -> None:
        """Called with each result before it is pushed; the default does nothing.

        A realtime service overrides it to send the result to the server (a ``function_call_output``
        item, then a response when ``frame.run_llm`` is not False). ``frame.run_llm`` is the handler's
        ``properties.run_llm`` when it gave one; otherwise False while other calls dispatched in the same
        :meth:`run_function_calls` still await their results, else None (answer). An exception raised
        here is reported as a non-fatal error; the result frames are pushed anyway.
        """

    def create_context_aggregator(
        self,
        context: LLMContext,
        *,
        user_params: LLMUserAggregatorParams | None = None,
        assistant_params: LLMAssistantAggregatorParams | None = None,
    ) -> LLMContextAggregatorPair:
        """The user and assistant aggregators that keep ``context`` up to date around this service.

        Subclasses override it to return their own aggregator classes; the default suits services fed
        by :class:`LLMContextFrame` (set ``user_params.push_context_frame`` for those).
        """
        return LLMContextAggregatorPair(
            user=LLMUserContextAggregator(context, params=user_params),
            assistant=LLMAssistantContextAggregator(context, params=assistant_params),
        )

    # -- interruption -----------------------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Cancel interruptible function calls on :class:`StartInterruptionFrame`; push nothing."""
        if isinstance(frame, StartInterruptionFrame):
            await self.cancel_function_calls()
        await super().process_frame(frame, direction)

    async def cancel_function_calls(self, *, interruptible_only: bool = True) -> list[str]:
        """Cancel running calls (those registered with ``cancel_on_interruption``, or all of them).

        Called on every :class:`StartInterruptionFrame` the service receives; a service that detects
        the interruption itself (server-side turn detection) calls it too. Each cancelled call gets a
        :class:`FunctionCallCancelFrame` (both directions) and no result. Calls whose result is already
        being delivered are left alone.

        Returns:
            The tool-call ids of the cancelled calls.
        """
        cancelled = [
            run
            for run in self._calls.values()
            if run.state is CallState.RUNNING and (run.cancel_on_interruption or not interruptible_only)
        ]
        for run in cancelled:
            run.set_state(CallState.CANCELLED)
            self._calls.pop(run.call.tool_call_id, None)
        for run in cancelled:
            if run.task is not None:
                await self.cancel_task(run.task)
            logger.debug(
                "%s: cancelled function call %s (%s)", self, run.call.tool_call_id, run.call.function_name
            )
            for direction in FrameDirection:
                frame = FunctionCallCancelFrame(
                    function_name=run.call.function_name, tool_call_id=run.call.tool_call_id
                )
                await self.push_frame(frame, direction)
            await self._push_call_metrics(run, "cancelled")
        return [run.call.tool_call_id for run in cancelled]

    # -- metrics ----------------------------------------------------------------------------------------
    def can_generate_metrics(self) -> bool:
        """LLM services measure themselves (TTFB, processing time, usage, function calls)."""
        return True

    async def _push_call_metrics(self, run: FunctionCallRun, error: str | None) -> None:
        if self.metrics_enabled and self.can_generate_metrics():
            await self.push_frame(run.metrics_frame(self.name, self._metrics.model, error))

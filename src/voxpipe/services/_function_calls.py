"""The pieces of function calling that are not the service itself: handler parameters, registrations,
and the record of one running call.

Kept apart from :mod:`voxpipe.services.llm_service` so the service module reads as the flow of a call
(dispatch, result, cancellation) while the bookkeeping lives here.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from voxpipe.adapters.schemas.function_schema import validate_function_name
from voxpipe.errors import VoxpipeStateError, VoxpipeUsageError
from voxpipe.frames.llm import FunctionCallFromLLM, FunctionCallResultProperties
from voxpipe.frames.metrics import MetricsFrame
from voxpipe.metrics.metrics import FunctionCallMetricsData

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.services.llm_service import LLMService

__all__ = [
    "CallState",
    "FunctionCallHandler",
    "FunctionCallParams",
    "FunctionCallResultCallback",
    "FunctionCallRun",
    "FunctionRegistration",
    "check_timeout",
    "is_legacy_handler",
]

logger = logging.getLogger("voxpipe.services.llm_service")

LEGACY_ARG_COUNT = 6
"""pipecat's old handler signature: ``(function_name, tool_call_id, args, llm, context, result_callback)``."""


class FunctionCallResultCallback(Protocol):
    """What a handler calls, once, with its result: ``await params.result_callback(result)``."""

    async def __call__(self, result: Any, *, properties: FunctionCallResultProperties | None = None) -> None:
        """Send ``result`` (anything JSON-serialisable) to the model.

        Args:
            result: the function's result.
            properties: whether the model should answer after it (``run_llm``), and a coroutine function
                to await once the result is part of the conversation (``on_context_updated``).
        """


@dataclass(slots=True)
class FunctionCallParams:
    """Everything a function-call handler gets, in one argument.

    Attributes:
        function_name: the function the model called.
        tool_call_id: the model's id of this call; results are matched to calls by it.
        arguments: the arguments the model gave, parsed from JSON.
        llm: the service that dispatched the call.
        context: the conversation context the call belongs to, when the service knows it.
        result_callback: ``await params.result_callback(result, properties=...)`` sends the result.
    """

    function_name: str
    tool_call_id: str
    arguments: dict[str, Any]
    llm: LLMService
    context: Any
    result_callback: FunctionCallResultCallback


FunctionCallHandler = Callable[[FunctionCallParams], Awaitable[None]]
"""A handler: ``async def handler(params: FunctionCallParams) -> None``."""


def is_legacy_handler(handler: Callable[..., Any]) -> bool:
    """Whether ``handler`` takes pipecat's legacy six arguments rather than one ``FunctionCallParams``.

    Raises:
        VoxpipeUsageError: the handler takes neither one argument nor six.
    """
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):  # some builtins and C callables have no signature: assume the new form
        return False
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    variadic = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values())
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    if len(positional) >= LEGACY_ARG_COUNT and len(required) <= LEGACY_ARG_COUNT:
        return True
    if len(required) <= 1 and (positional or variadic):
        return False
    raise VoxpipeUsageError(
        f"function handler {handler!r} must take one argument (params: FunctionCallParams), "
        f"or pipecat's legacy six (function_name, tool_call_id, args, llm, context, result_callback); "
        f"its signature is {signature}"
    )


def check_timeout(timeout: float | None) -> float | None:
    """Return ``timeout`` if it is None or a positive number of seconds.

    Raises:
        VoxpipeUsageError: the timeout is zero or negative.
    """
    if timeout is not None and not timeout > 0:
        raise VoxpipeUsageError(
            f"a function-call timeout must be a positive number of seconds, got {timeout!r}"
        )
    return timeout


@dataclass(slots=True, frozen=True)
class FunctionRegistration:
    """A registered handler and how its calls are run.

    Attributes:
        function_name: the function's name, or None for the catch-all.
        handler: the handler, in either signature.
        legacy: the handler takes pipecat's six legacy arguments.
        cancel_on_interruption: an interruption cancels running calls (no result is sent).
        timeout_secs: the handler is cancelled after this long and the model gets a timeout error.
    """

    function_name: str | None
    handler: Callable[..., Any]
    legacy: bool
    cancel_on_interruption: bool
    timeout_secs: float | None

    @classmethod
    def create(
        cls,
        function_name: str | None,
        handler: Callable[..., Any],
        *,
        cancel_on_interruption: bool,
        timeout_secs: float | None,
    ) -> FunctionRegistration:
        """A checked registration (see ``LLMService.register_function``).

        Raises:
            VoxpipeUsageError: invalid name, handler not callable or of neither signature, bad timeout.
        """
        if function_name is not None:
            validate_function_name(function_name)
        if not callable(handler):
            raise VoxpipeUsageError(
                f"handler of function {function_name!r} must be callable, got {handler!r}"
            )
        return cls(
            function_name=function_name,
            handler=handler,
            legacy=is_legacy_handler(handler),
            cancel_on_interruption=cancel_on_interruption,
            timeout_secs=check_timeout(timeout_secs),
        )

    async def invoke(self, params: FunctionCallParams) -> None:
        """Call the handler in its own signature; sync handlers are accepted too."""
        if self.legacy:
            outcome = self.handler(
                params.function_name,
                params.tool_call_id,
                params.arguments,
                params.llm,
                params.context,
                params.result_callback,
            )
        else:
            outcome = self.handler(params)
        if inspect.isawaitable(outcome):
            await outcome


class CallState(enum.Enum):
    """Where one function call is. ``RUNNING -> DELIVERING -> DONE``, or ``RUNNING -> CANCELLED``."""

    RUNNING = "running"
    DELIVERING = "delivering"
    DONE = "done"
    CANCELLED = "cancelled"


_MOVES: dict[CallState, frozenset[CallState]] = {
    CallState.RUNNING: frozenset({CallState.DELIVERING, CallState.CANCELLED}),
    CallState.DELIVERING: frozenset({CallState.DONE}),
    CallState.DONE: frozenset(),
    CallState.CANCELLED: frozenset(),
}


@dataclass(slots=True, eq=False)
class FunctionCallRun:
    """One call the service dispatched: what was asked, who handles it, and where it is.

    Attributes:
        call: the call as the model asked for it.
        registration: its handler, or None when the function is not registered.
        batch: every run dispatched with this one (itself included), shared by them.
        started_at: ``time.perf_counter()`` at dispatch, for the call's metrics.
        task: the task running the handler.
    """

    call: FunctionCallFromLLM
    registration: FunctionRegistration | None
    batch: list[FunctionCallRun] = field(default_factory=list)
    started_at: float = field(default_factory=time.perf_counter)
    task: asyncio.Task[None] | None = None
    state: CallState = CallState.RUNNING

    def default_run_llm(self) -> bool | None:
        """False while another call of the batch still awaits its result (answer once, after the last
        result), else None: the service decides."""
        others_pending = any(run is not self and run.state is CallState.RUNNING for run in self.batch)
        return False if others_pending else None

    @property
    def cancel_on_interruption(self) -> bool:
        """Whether an interruption cancels this call (never for an unregistered function)."""
        return self.registration is not None and self.registration.cancel_on_interruption

    def set_state(self, new: CallState) -> None:
        """Move to ``new``.

        Raises:
            VoxpipeStateError: the move is not allowed from the current state.
        """
        old = self.state
        if new not in _MOVES[old]:
            raise VoxpipeStateError(
                f"function call {self.call.tool_call_id} ({self.call.function_name}): "
                f"cannot move from {old.value} to {new.value}"
            )
        self.state = new
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "function call %s (%s): %s -> %s",
                self.call.tool_call_id,
                self.call.function_name,
                old.value,
                new.value,
            )

    def metrics_frame(self, processor: str, model: str | None, error: str | None) -> MetricsFrame:
        """The call's time from dispatch to now (its result or cancellation), as a metrics frame."""
        data = FunctionCallMetricsData(
            processor=processor,
            model=model,
            function_name=self.call.function_name,
            tool_call_id=self.call.tool_call_id,
            value=time.perf_counter() - self.started_at,
            error=error,
        )
        return MetricsFrame(data=[data])

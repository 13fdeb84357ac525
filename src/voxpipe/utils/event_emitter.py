"""Named events with sync or async handlers that never hold up the caller.

``@service.event_handler("on_conversation_item_created")`` registers a handler; the emitter calls every
handler of an event with itself first, then the event's arguments. Handlers run one after another on the
emitter's own dispatch task, in the order the events were emitted, so a slow handler delays later
handlers, never the frames that the emitter processes.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from voxpipe.errors import VoxpipeUsageError

__all__ = ["EventEmitter", "EventHandler"]

logger = logging.getLogger(__name__)

EventHandler = Callable[..., Any]
"""A handler: ``handler(emitter, *args)``, returning None or an awaitable."""

_H = TypeVar("_H", bound=EventHandler)

_CLOSE = "\0close"
"""Queued after the last event when the emitter closes; no real event can have this name."""


class EventEmitter:
    """Mixin that gives a class named events.

    Subclasses declare their events with :meth:`_register_event_handler` (usually in ``__init__``); adding a
    handler for an undeclared event is a usage error that lists the known ones.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._event_handlers: dict[str, list[EventHandler]] = {}
        self._event_queue: deque[tuple[str, tuple[Any, ...], dict[str, Any]]] = deque()
        self._event_wakeup: asyncio.Event | None = None
        self._event_task: asyncio.Task[None] | None = None

    # -- declaring and adding -------------------------------------------------------------------------
    def _register_event_handler(self, event_name: str) -> None:
        """Declare an event this object emits."""
        self._event_handlers.setdefault(event_name, [])

    register_event_handler = _register_event_handler

    @property
    def event_names(self) -> tuple[str, ...]:
        """The events this object declares."""
        return tuple(self._event_handlers)

    def add_event_handler(self, event_name: str, handler: EventHandler) -> None:
        """Add ``handler`` to the named event.

        Raises:
            VoxpipeUsageError: the event is not declared by this object, or the handler is not callable.
        """
        if event_name not in self._event_handlers:
            known = ", ".join(sorted(self._event_handlers)) or "none"
            raise VoxpipeUsageError(
                f"{type(self).__name__} has no event {event_name!r}; known events: {known}"
            )
        if not callable(handler):
            raise VoxpipeUsageError(f"handler for {event_name!r} must be callable, got {handler!r}")
        self._event_handlers[event_name].append(handler)

    def event_handler(self, event_name: str) -> Callable[[_H], _H]:
        """Decorator form of :meth:`add_event_handler`."""

        def decorator(handler: _H) -> _H:
            self.add_event_handler(event_name, handler)
            return handler

        return decorator

    def has_event_handlers(self, event_name: str) -> bool:
        """Whether anyone listens to the event (lets emitters skip building costly arguments)."""
        return bool(self._event_handlers.get(event_name))

    # -- emitting -------------------------------------------------------------------------------------
    async def _call_event_handler(self, event_name: str, *args: Any, **kwargs: Any) -> None:
        """Emit an event: its handlers run soon, on the dispatch task, in emission order.

        Returns at once; it is async so that emitting reads the same everywhere.
        """
        self._emit_event(event_name, *args, **kwargs)

    def _emit_event(self, event_name: str, *args: Any, **kwargs: Any) -> None:
        """Synchronous form of :meth:`_call_event_handler`."""
        if event_name not in self._event_handlers:
            raise VoxpipeUsageError(f"{type(self).__name__} emitted undeclared event {event_name!r}")
        if not self._event_handlers[event_name]:
            return
        self._event_queue.append((event_name, args, kwargs))
        if self._event_task is None or self._event_task.done():
            self._event_wakeup = asyncio.Event()
            self._event_task = asyncio.get_running_loop().create_task(
                self._dispatch_events(), name=f"{self}.events"
            )
        assert self._event_wakeup is not None
        self._event_wakeup.set()

    async def _dispatch_events(self) -> None:
        wakeup = self._event_wakeup
        assert wakeup is not None
        queue = self._event_queue
        while True:
            while queue:
                event_name, args, kwargs = queue.popleft()
                if event_name is _CLOSE:
                    return
                for handler in tuple(self._event_handlers[event_name]):
                    await self._run_handler(event_name, handler, args, kwargs)
            wakeup.clear()
            await wakeup.wait()

    async def _run_handler(
        self, event_name: str, handler: EventHandler, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        try:
            result = handler(self, *args, **kwargs)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("handler %r of event %s on %s failed", handler, event_name, self)

    async def _close_event_handlers(self, timeout: float = 5.0) -> None:
        """Let the handlers of events already emitted finish (up to ``timeout`` seconds), then stop.

        Safe to cancel: the dispatch task is cancelled and awaited either way.
        """
        task = self._event_task
        if task is None:
            return
        self._event_task = None
        self._event_queue.append((_CLOSE, (), {}))
        assert self._event_wakeup is not None
        self._event_wakeup.set()
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done:
                logger.warning(
                    "%s: event handlers still running %.1f s after closing; cancelled", self, timeout
                )
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
        self._event_queue.clear()

"""Dispatch by frame type through a table, walking the frame's MRO once per type.

``@frame_handler(TextFrame)`` marks a processor method as the handler of ``TextFrame`` and its subclasses;
a more specific handler (say for ``LLMTextFrame``) wins over a more general one, as a method override would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from voxpipe.utils.dispatch import HANDLER_MARK, HandlerTable

__all__ = ["HandlerTable", "frame_handler"]

_F = TypeVar("_F", bound=Callable[..., Any])


def frame_handler(*frame_types: type) -> Callable[[_F], _F]:
    """Mark a method ``async def handler(self, frame, direction)`` as the handler of ``frame_types``."""
    if not frame_types:
        raise TypeError("frame_handler needs at least one frame type")

    def mark(method: _F) -> _F:
        setattr(method, HANDLER_MARK, (*getattr(method, HANDLER_MARK, ()), *frame_types))
        return method

    return mark

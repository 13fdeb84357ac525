"""The frame kinds every other frame is built from.

A frame is a small dataclass that travels through a pipeline. Its kind decides how processors treat it:

- :class:`SystemFrame`: handled at once, never queued behind ordered work (audio input, interruptions,
  cancellation, errors, metrics).
- :class:`DataFrame` and :class:`ControlFrame`: handled in order by each processor, and dropped from a
  processor's queue by an interruption unless they are also :class:`UninterruptibleFrame`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ControlFrame", "DataFrame", "Frame", "SystemFrame", "UninterruptibleFrame"]

_ids = itertools.count(1)
_next_id = _ids.__next__


@dataclass(slots=True, kw_only=True)
class Frame:
    """Base of all frames.

    Attributes:
        id: a process-wide unique number, increasing in creation order.
        pts: presentation timestamp in nanoseconds, when the producer knows one.
        metadata: free-form data that travels with the frame.
    """

    id: int = field(default_factory=_next_id, repr=False, compare=False)
    pts: int | None = field(default=None, repr=False, compare=False)
    metadata: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        """A readable unique name, such as ``TextFrame#12``."""
        return f"{type(self).__name__}#{self.id}"


@dataclass(slots=True, kw_only=True)
class SystemFrame(Frame):
    """A frame handled immediately by each processor, ahead of any queued ordered frame."""


@dataclass(slots=True, kw_only=True)
class DataFrame(Frame):
    """A frame of content (text, audio for output, messages) processed in order."""


@dataclass(slots=True, kw_only=True)
class ControlFrame(Frame):
    """A frame that controls processing (end of stream, response boundaries) processed in order."""


class UninterruptibleFrame:
    """Marker for ordered frames that an interruption must not drop (function-call results, EndFrame).

    Mix it in before the frame kind: ``class FunctionCallResultFrame(DataFrame, UninterruptibleFrame)``.
    """

    __slots__ = ()

"""Events whose ``type`` this library does not know: kept whole, never raised.

Servers add events over time (GA added a dozen); a client that raised on them would stop reading
its socket. An unknown event keeps every field as an extra, so it re-serialises unchanged.
"""

from typing import Any

from voxpipe.realtime._base import EventBase

__all__ = ["UnknownClientEvent", "UnknownServerEvent"]


class _UnknownEvent(EventBase):
    """An event of an unrecognised ``type``; all other fields are kept as extras."""

    @property
    def raw(self) -> dict[str, Any]:
        """The event as received: ``type`` plus every other field, unvalidated."""
        return {"type": self.type, **(self.__pydantic_extra__ or {})}


class UnknownServerEvent(_UnknownEvent):
    """A server event of a ``type`` not in this library's tables (see :attr:`raw`)."""


class UnknownClientEvent(_UnknownEvent):
    """A client event of a ``type`` not in this library's tables (see :attr:`raw`)."""

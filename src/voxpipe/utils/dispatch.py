"""A table from types to values that honours inheritance: a lookup walks the type's MRO once, then caches.

Dispatch by type goes through such tables (STYLE.md practice 3) rather than ``isinstance`` chains:
processors use it for frame handlers, serializers for frame encoders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["HANDLER_MARK", "HandlerTable"]

HANDLER_MARK = "_voxpipe_frame_types"


class HandlerTable:
    """Maps frame types to handlers; a lookup walks the type's MRO once and caches the answer."""

    __slots__ = ("_cache", "_direct")

    def __init__(self, handlers: Mapping[type, Callable[..., Any]] | None = None) -> None:
        self._direct: dict[type, Callable[..., Any]] = dict(handlers or {})
        self._cache: dict[type, Callable[..., Any] | None] = {}

    def __bool__(self) -> bool:
        return bool(self._direct)

    def __len__(self) -> int:
        return len(self._direct)

    def lookup(self, frame_type: type) -> Callable[..., Any] | None:
        """The handler of the most specific registered type in ``frame_type``'s MRO, or None."""
        try:
            return self._cache[frame_type]
        except KeyError:
            pass
        found = None
        for klass in frame_type.__mro__:
            found = self._direct.get(klass)
            if found is not None:
                break
        self._cache[frame_type] = found
        return found

    @classmethod
    def collect(cls, owner: type) -> HandlerTable:
        """Build the table of a class from the methods marked with :func:`frame_handler`.

        Overrides are honoured: the method found on ``owner`` under a marked name is the one used.
        """
        handlers: dict[type, Callable[..., Any]] = {}
        for klass in reversed(owner.__mro__):
            for attr_name, attr in vars(klass).items():
                types = getattr(attr, HANDLER_MARK, None)
                if not types:
                    continue
                method = getattr(owner, attr_name)
                for frame_type in types:
                    handlers[frame_type] = method
        return cls(handlers)

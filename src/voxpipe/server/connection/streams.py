"""Closing an engine's stream promptly when a response stops early.

The engine interfaces type their streams as ``AsyncIterator`` (async generators in practice), which
``contextlib.aclosing`` does not accept; ``closing`` does the same for any async iterator that has
``aclose``, so a cancelled or cut response stops the LLM or TTS at once instead of at garbage collection.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

__all__ = ["closing"]

_T = TypeVar("_T")


@contextlib.asynccontextmanager
async def closing(iterator: AsyncIterator[_T]) -> AsyncIterator[AsyncIterator[_T]]:
    """``async with closing(engine.stream(...)) as chunks``: ``aclose`` it on the way out, if it can."""
    try:
        yield iterator
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()

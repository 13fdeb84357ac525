"""Translating model-library errors into ``EngineError`` at the engine boundary.

llama.cpp, CTranslate2, ONNX Runtime and Piper raise ``ValueError``, ``RuntimeError`` or their own types;
a session should see one kind, with a code and whether it can go on. Errors voxpipe raised on purpose
(``VoxpipeError``) pass through untouched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from voxpipe.errors import VoxpipeError
from voxpipe.server.engines.base import EngineError

__all__ = ["model_errors"]


@contextlib.contextmanager
def model_errors(what: str, *, recoverable: bool = True) -> Iterator[None]:
    """Re-raise any library error inside as ``EngineError(code="engine_error")`` naming ``what``.

    Args:
        what: the step that failed, for the message ("loading Whisper tiny.en", "Whisper transcription").
        recoverable: False when the engine is unusable after it (a model that does not load).
    """
    try:
        yield
    except VoxpipeError:
        raise
    except Exception as exc:
        raise EngineError(
            f"{what} failed: {type(exc).__name__}: {exc}"
            + ("" if recoverable else "; the engine cannot be used until this is fixed"),
            code="engine_error",
            recoverable=recoverable,
        ) from exc

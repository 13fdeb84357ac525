"""Optional OpenTelemetry spans: one span per turn (``pip install 'voxpipe[otel]'``).

When ``opentelemetry-api`` is importable, each turn that server VAD ends becomes a span ``voxpipe.turn``
from ``input_audio_buffer.speech_stopped`` to ``response.done``, with one event per latency stage
(``first_token``, ``first_tts_chunk``, ``first_audio``). A turn the user talks over ends at once with the
attribute ``voxpipe.turn.abandoned``; a session that closes mid-turn ends its span too. Spans go to the
tracer provider the application configured; with the API alone (no SDK) they cost next to nothing.
Without the package there is no tracing and nothing is imported.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TurnSpans", "default_tracer"]


def default_tracer() -> Any | None:
    """The ``voxpipe.server`` tracer of the global provider, or None without ``opentelemetry-api``."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace.get_tracer("voxpipe.server")


class TurnSpans:
    """The span of one session's current turn (at most one open at a time).

    Args:
        tracer: an OpenTelemetry ``Tracer``.
    """

    def __init__(self, tracer: Any) -> None:
        self._tracer = tracer
        self._span: Any | None = None

    def started(self) -> None:
        """Speech stopped: a turn begins (a turn still open is closed first)."""
        self.end()
        self._span = self._tracer.start_span("voxpipe.turn")

    def stage(self, name: str) -> None:
        """A latency stage was reached."""
        if self._span is not None:
            self._span.add_event(name)

    def end(self, *, abandoned: bool = False) -> None:
        """The turn is over (answered, talked over, or the session closed)."""
        if self._span is None:
            return
        if abandoned:
            self._span.set_attribute("voxpipe.turn.abandoned", True)
        self._span.end()
        self._span = None

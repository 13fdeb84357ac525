"""The Prometheus metrics of one server process, in a registry of their own.

Every series and what it is for (``docs/deploy.md`` says which to autoscale on)::

    voxpipe_sessions_open                      gauge    sessions open now
    voxpipe_sessions_max                       gauge    the admission limit
    voxpipe_ready                              gauge    1 when a new session would be admitted
    voxpipe_sessions_total                     counter  sessions admitted
    voxpipe_sessions_refused_total{reason}     counter  upgrades refused: full, starting, draining, stopped
    voxpipe_events_received_total{type}        counter  client events handled, by event type
    voxpipe_events_sent_total{type}            counter  server events queued, by event type
    voxpipe_errors_total{code}                 counter  ``error`` events sent, by error code
    voxpipe_turn_latency_seconds{stage}        histogram speech stopped -> first_token, first_tts_chunk,
                                                        first_audio (handed to the socket)
    voxpipe_engine_queue_depth{engine}         gauge    requests running or waiting in an engine
    voxpipe_engine_requests_total{engine}      counter  requests an engine took
    voxpipe_engine_busy_seconds_total{engine}  counter  time with at least one request in the engine
    voxpipe_audio_in_seconds_total             counter  audio received from clients
    voxpipe_audio_out_seconds_total            counter  audio sent to clients

Labels stay low-cardinality: event types and error codes are the protocol's (a ``LabelGuard`` caps them
anyway), engines are four names, stages three, refusal reasons four. Nothing per session or per client.

Each ``ServerMetrics`` owns its ``CollectorRegistry`` (not the global one), so several servers in one
process (tests, benchmarks) keep apart counts.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from voxpipe.server.metrics._tracing import default_tracer

__all__ = ["ENGINE_ROLES", "TURN_STAGES", "EngineLoad", "LabelGuard", "ServerMetrics"]

ENGINE_ROLES = ("vad", "stt", "llm", "tts")
TURN_STAGES = ("first_token", "first_tts_chunk", "first_audio")

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
_LABEL_VALUE = re.compile(r"[a-z0-9_.]{1,64}")


class LabelGuard:
    """Lets at most ``limit`` distinct, well-formed label values through; the rest become ``other``.

    Event types and error codes come from the protocol, so the cap is a safety net against a bug that
    would put client data in a label (every distinct value is a new time series).
    """

    def __init__(self, limit: int = 128) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str | None) -> str:
        """The label value to use for ``value``."""
        if value is None:
            return "none"
        if value in self._seen:
            return value
        if len(self._seen) >= self._limit or not _LABEL_VALUE.fullmatch(value):
            return "other"
        self._seen.add(value)
        return value


class EngineLoad:
    """Requests in flight in one engine and the time it was busy; cheap to update, read at scrape time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.in_flight = 0
        self.requests = 0
        self._busy_s = 0.0
        self._busy_since = 0.0

    def enter(self) -> None:
        """A request started (or began waiting for the engine)."""
        if self.in_flight == 0:
            self._busy_since = self._clock()
        self.in_flight += 1
        self.requests += 1

    def leave(self) -> None:
        """A request ended (finished, failed or cancelled)."""
        self.in_flight -= 1
        if self.in_flight == 0:
            self._busy_s += self._clock() - self._busy_since

    def add_busy(self, seconds: float) -> None:
        """Count work measured outside ``enter``/``leave`` (synchronous calls, such as VAD frames)."""
        self._busy_s += seconds

    @property
    def busy_s(self) -> float:
        """Seconds with at least one request in flight, up to now."""
        running = self._clock() - self._busy_since if self.in_flight else 0.0
        return self._busy_s + running


class _LiveCollector(Collector):
    """Series read from live objects at scrape time: sessions, readiness and engine load."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        metrics = self._metrics
        yield GaugeMetricFamily("voxpipe_sessions_open", "Sessions open now.", value=metrics.open_sessions())
        yield GaugeMetricFamily("voxpipe_sessions_max", "The admission limit.", value=metrics.max_sessions())
        yield GaugeMetricFamily(
            "voxpipe_ready", "1 when a new session would be admitted now.", value=float(metrics.ready())
        )
        depth = GaugeMetricFamily(
            "voxpipe_engine_queue_depth", "Requests running or waiting in an engine.", labels=["engine"]
        )
        requests = CounterMetricFamily(
            "voxpipe_engine_requests", "Requests an engine took.", labels=["engine"]
        )
        busy = CounterMetricFamily(
            "voxpipe_engine_busy_seconds", "Time with at least one request in the engine.", labels=["engine"]
        )
        for role, load in metrics.engines.items():
            depth.add_metric([role], load.in_flight)
            requests.add_metric([role], load.requests)
            busy.add_metric([role], load.busy_s)
        yield depth
        yield requests
        yield busy


class ServerMetrics:
    """Every metric of one server (see the module docstring).

    Args:
        open_sessions: reads the open-session count (from admission).
        max_sessions: reads the admission limit.
        ready: reads whether a new session would be admitted now.
        tracer: an OpenTelemetry tracer for per-turn spans; by default the global provider's when
            ``opentelemetry-api`` is installed, else none. Pass ``False`` to switch tracing off.
    """

    def __init__(
        self,
        *,
        open_sessions: Callable[[], int] = lambda: 0,
        max_sessions: Callable[[], int] = lambda: 0,
        ready: Callable[[], bool] = lambda: False,
        tracer: Any = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.open_sessions = open_sessions
        self.max_sessions = max_sessions
        self.ready = ready
        self.tracer: Any | None = default_tracer() if tracer is None else (tracer or None)
        self.engines: dict[str, EngineLoad] = {role: EngineLoad() for role in ENGINE_ROLES}
        self.event_type = LabelGuard()
        self.error_code = LabelGuard()
        registry = self.registry
        self.sessions = Counter("voxpipe_sessions", "Sessions admitted.", registry=registry)
        self.refused = Counter(
            "voxpipe_sessions_refused", "Session upgrades refused, by reason.", ["reason"], registry=registry
        )
        self.events_in = Counter(
            "voxpipe_events_received", "Client events handled, by type.", ["type"], registry=registry
        )
        self.events_out = Counter(
            "voxpipe_events_sent", "Server events queued for clients, by type.", ["type"], registry=registry
        )
        self.errors = Counter("voxpipe_errors", "Error events sent, by code.", ["code"], registry=registry)
        self.turn_latency = Histogram(
            "voxpipe_turn_latency_seconds",
            "From the end of the user's speech to the first token, TTS chunk and audio sent.",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.audio_in = Counter("voxpipe_audio_in_seconds", "Audio received from clients.", registry=registry)
        self.audio_out = Counter("voxpipe_audio_out_seconds", "Audio sent to clients.", registry=registry)
        for reason in ("full", "starting", "draining", "stopped"):
            self.refused.labels(reason)
        self._stages = {stage: self.turn_latency.labels(stage) for stage in TURN_STAGES}
        registry.register(_LiveCollector(self))

    def observe_turn(self, stage: str, seconds: float) -> None:
        """Record one turn-latency sample of ``stage`` (one of ``TURN_STAGES``)."""
        self._stages[stage].observe(seconds)

"""Prometheus metrics of ``voxpipe serve``: what is served, how fast, and how loaded the engines are.

``ServerMetrics`` holds the series (listed in its module docstring), ``SessionMeter`` feeds them from one
session, ``metered_engines`` from the engines; ``metrics_endpoint`` serves ``GET /metrics`` in the
Prometheus text format.
"""

from voxpipe.server.metrics._endpoint import metrics_endpoint
from voxpipe.server.metrics._engines import metered_engines
from voxpipe.server.metrics._server import ENGINE_ROLES, TURN_STAGES, EngineLoad, LabelGuard, ServerMetrics
from voxpipe.server.metrics._session import MeteredTransport, SessionMeter

__all__ = [
    "ENGINE_ROLES",
    "TURN_STAGES",
    "EngineLoad",
    "LabelGuard",
    "MeteredTransport",
    "ServerMetrics",
    "SessionMeter",
    "metered_engines",
    "metrics_endpoint",
]

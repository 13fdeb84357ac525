"""``GET /metrics``: the server's metrics in the Prometheus text exposition format."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["metrics_endpoint"]


async def metrics_endpoint(request: Request) -> Response:
    """Render every series of the app's ``ServerMetrics`` (``app.state.voxpipe.metrics``)."""
    registry = request.app.state.voxpipe.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

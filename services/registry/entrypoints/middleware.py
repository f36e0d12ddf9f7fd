"""What every HTTP answer passes through."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response

from services.registry.metrics import HTTP_DURATION, HTTP_REQUESTS


async def count_http(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Requests by route template (never the concrete path, which holds ids) and status."""
    started = time.perf_counter()
    response = await call_next(request)
    route = request.scope.get("route")
    template = getattr(route, "path", None) or (
        "/metrics" if request.url.path.startswith("/metrics") else "other"
    )
    HTTP_REQUESTS.labels(request.method, template, str(response.status_code)).inc()
    HTTP_DURATION.labels(request.method, template).observe(time.perf_counter() - started)
    return response

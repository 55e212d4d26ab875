"""Prometheus metrics: HTTP histograms via a pure-ASGI middleware (which also sets the request id),
and the /metrics endpoint."""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from .logging import request_id_var

HTTP_LATENCY = Histogram(
    "fq_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BROKER_UP = Gauge("fq_broker_up", "1 when this process reached the Kafka broker at its last readiness check",
                  ["service"])
HTTP_IN_FLIGHT = Counter("fq_http_requests_total", "HTTP requests", ["service", "method", "status"])

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class ObservabilityMiddleware:
    """Request id (``X-Request-ID`` in and out) and latency histogram, without BaseHTTPMiddleware."""

    def __init__(self, app, service: str):
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = None
        for k, v in scope.get("headers", ()):
            if k == b"x-request-id":
                rid = v.decode("latin-1")[:128]
                break
        rid = rid or uuid.uuid4().hex
        token = request_id_var.set(rid)
        status = {"code": 500}
        started = time.perf_counter()

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            code = str(status["code"])
            HTTP_LATENCY.labels(self.service, scope["method"], path, code).observe(time.perf_counter() - started)
            HTTP_IN_FLIGHT.labels(self.service, scope["method"], code).inc()
            request_id_var.reset(token)

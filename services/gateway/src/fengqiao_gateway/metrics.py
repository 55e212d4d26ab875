"""Gateway-specific Prometheus metrics (served on the internal metrics port with the common HTTP histograms)."""

from prometheus_client import Counter, Gauge, Histogram

UPSTREAM_LATENCY = Histogram(
    "fq_gateway_upstream_duration_seconds", "Time until the upstream service answered (headers)",
    ["service", "method", "status"], buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REJECTED = Counter("fq_gateway_rejected_total", "Requests refused by the gateway itself", ["reason"])
OPEN_STREAMS = Gauge("fq_gateway_open_streams", "Event streams (SSE) open through this gateway process")
UPSTREAM_UP = Gauge("fq_gateway_upstream_ready", "1 when the service answered its /readyz with 200 at the last check",
                    ["service"])

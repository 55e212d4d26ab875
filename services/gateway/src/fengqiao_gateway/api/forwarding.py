"""What every forwarded request shares: headers dropped on the way in and out, upstream failures as answers."""

from __future__ import annotations

from fengqiao_common.auth import IDENTITY_HEADER
from fengqiao_common.errors import ApiError

from ..adapters.upstream import UpstreamUnavailable
from ..domain.audit import INTERNAL_HEADERS
from ..metrics import REJECTED

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length",
})
DROP_REQUEST = HOP_BY_HOP | {"authorization", "x-api-key", IDENTITY_HEADER.lower(), "x-request-id", "cookie",
                             "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}
# the services' audit declarations (domain/audit.py) are for the gateway only
DROP_RESPONSE = frozenset({"connection", "keep-alive", "transfer-encoding", "x-request-id", "server",
                           "date"}) | INTERNAL_HEADERS


def response_headers(upstream, decision) -> dict[str, str]:
    """The answer's headers (an httpx or h1client response) without hop-by-hop and internal ones, plus limits."""
    out = {k: v for k, v in upstream.headers.items() if k.lower() not in DROP_RESPONSE}
    out["x-ratelimit-limit"] = str(decision.limit)
    out["x-ratelimit-remaining"] = str(decision.remaining)
    return out


def upstream_error(exc: UpstreamUnavailable) -> ApiError:
    REJECTED.labels("upstream_timeout" if exc.timeout else "upstream_unavailable").inc()
    if exc.timeout:
        return ApiError(504, "upstream_timeout", "后端服务响应超时", f"{exc.service} timed out")
    return ApiError(503, "upstream_unavailable", "后端服务暂不可用", f"{exc.service} unavailable",
                    headers={"Retry-After": "2"})

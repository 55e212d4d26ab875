"""What every forwarded request shares: headers dropped on the way in and out, upstream failures as answers."""

from __future__ import annotations

from fengqiao_common.auth import IDENTITY_HEADER
from fengqiao_common.errors import ApiError
from starlette.responses import StreamingResponse

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


class ProxiedResponse(StreamingResponse):
    """A service's answer streamed back as it arrives, without StreamingResponse's task group watching for a
    client disconnect (anyio's task group was a fifth of the gateway's CPU per proxied request). A client that
    goes away makes the sends no-ops; the answer (never endless here: event streams are api/streams.py) is read
    to its end and its connection goes back to the pool."""

    def __init__(self, upstream, status_code: int, headers: dict[str, str]):
        super().__init__(upstream.aiter_raw(), status_code=status_code, headers=headers)
        self._upstream = upstream

    async def __call__(self, scope, receive, send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await self._upstream.aclose()

"""Event streams (Server-Sent Events, e.g. the big screen's /screen/stream): their own upstream pool, at most
``stream_max_per_address`` open per client address (then 429) and ``stream_max_connections`` in all (then 503),
so hundreds of screens never take the connections the API needs."""

from __future__ import annotations

from fengqiao_common.errors import ApiError
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from ..adapters.upstream import UpstreamUnavailable
from ..deps import Deps
from ..metrics import OPEN_STREAMS, REJECTED
from .forwarding import response_headers, upstream_error


class Lease:
    """One taken slot; released once, whichever of the body's end or the response's background task is first."""

    def __init__(self, deps: Deps, address: str):
        self.deps, self.address, self.held = deps, address, True
        OPEN_STREAMS.inc()

    def release(self) -> None:
        if self.held:
            self.held = False
            self.deps.stream_slots.release(self.address)
            OPEN_STREAMS.dec()


async def open_stream(deps: Deps, service: str, raw_path: str, query: str, headers: list[tuple[str, str]],
                      address: str, decision) -> StreamingResponse:
    refused = deps.stream_slots.acquire(address)
    if refused == "address":
        REJECTED.labels("streams_per_address").inc()
        raise ApiError(429, "too_many_streams", "此地址打开的实时数据流过多",
                       f"too many open event streams from this address (limit {deps.stream_slots.per_address})",
                       headers={"Retry-After": "10"})
    if refused == "total":
        REJECTED.labels("streams_total").inc()
        raise ApiError(503, "too_many_streams", "实时数据流已满，请稍后重试",
                       f"the gateway has too many open event streams (limit {deps.stream_slots.total}), retry later",
                       headers={"Retry-After": "10"})
    lease = Lease(deps, address)
    try:
        upstream = await deps.streams.send(service, "GET", raw_path, query, headers, b"", idempotent=True)
    except UpstreamUnavailable as exc:
        lease.release()
        raise upstream_error(exc) from exc
    except BaseException:
        lease.release()
        raise

    async def body():
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            lease.release()

    async def close() -> None:
        lease.release()
        await upstream.aclose()

    return StreamingResponse(body(), status_code=upstream.status_code, headers=response_headers(upstream, decision),
                             background=BackgroundTask(close))

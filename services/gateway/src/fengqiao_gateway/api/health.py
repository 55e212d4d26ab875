"""/readyz of the gateway: ready when its own database answers. The services' readiness is reported beside
it (and as ``fq_gateway_upstream_ready``) but does not decide it: a service away, or the broker, must not take
the front door out of the load balancer; its requests get 503 from the forwarding instead."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..deps import Deps
from ..metrics import UPSTREAM_UP
from .schemas import ReadyOut

router = APIRouter(include_in_schema=False)
DECIDING = frozenset({"database"})


async def upstreams_ready(deps: Deps) -> dict[str, str]:
    names = list(deps.settings.upstreams())
    results = await asyncio.gather(*(deps.upstreams.get_json(n, "/readyz") for n in names))
    out = {}
    for name, (status, _body) in zip(names, results, strict=True):
        out[name] = "ok" if status == 200 else ("unavailable" if status == 0 else "not_ready")
        UPSTREAM_UP.labels(name).set(1 if status == 200 else 0)
    return out


@router.get("/readyz", operation_id="gateway_readyz", response_model=ReadyOut,
            responses={503: {"model": ReadyOut, "description": "the gateway's database is not reachable"}})
async def readyz(request: Request):
    runtime = request.app.state.runtime
    deps: Deps = runtime.deps
    checks, upstreams = await asyncio.gather(runtime.readiness(), upstreams_ready(deps))
    if deps.settings.redis_url:  # shared rate limits; the limiter fails open, so this only informs
        checks["redis"] = "ok" if await deps.limiter.ping() else "unavailable"
    ok = all(v == "ok" for k, v in checks.items() if k in DECIDING)
    body = ReadyOut(status="ready" if ok else "not_ready", service=deps.settings.service_name, checks=checks,
                    upstreams=upstreams)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

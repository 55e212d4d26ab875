"""/api/v1/weak-signal-reports: a grid worker's early signs of risk (弱信号): logged, not dispatched."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from fengqiao_common.auth import DISPATCHER, GRID_WORKER, CurrentPrincipal, require_roles

from ..schemas import WeakSignalIn
from ..usecases import weak_signals as uc
from . import DepsDep, IdempotencyKey, replayed
from .schemas import WeakSignalOut

router = APIRouter(prefix="/api/v1/weak-signal-reports", tags=["weak signals"])


def _view(r: dict) -> dict:
    return {k: r[k] for k in ("id", "grid", "community", "category", "summary", "description", "people_involved",
                              "reporter", "reported_at")}


@router.post("", status_code=201, operation_id="report_weak_signal", response_model=WeakSignalOut,
             dependencies=[require_roles(GRID_WORKER)])
async def report(body: WeakSignalIn, response: Response, d: DepsDep, principal: CurrentPrincipal,
                 idempotency_key: IdempotencyKey = None):
    result = await uc.report_weak_signal(d.uow(), principal, body, ctx=d.ctx, idempotency_key=idempotency_key)
    replayed(response, result.created)
    return _view(result.item)


@router.get("", operation_id="list_weak_signals", response_model=list[WeakSignalOut],
            dependencies=[require_roles(GRID_WORKER, DISPATCHER, "leader")])
async def list_signals(d: DepsDep, principal: CurrentPrincipal, limit: int = Query(50, ge=1, le=500),
                       offset: int = Query(0, ge=0, le=1_000_000)):
    return [_view(r) for r in await uc.list_weak_signals(d.uow(), principal, limit=limit, offset=offset)]

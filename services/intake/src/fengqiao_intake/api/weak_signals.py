"""/api/v1/weak-signal-reports: a grid worker's early signs of risk (弱信号): logged, not dispatched."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from fengqiao_common.auth import DISPATCHER, GRID_WORKER, CurrentPrincipal, require_roles
from fengqiao_common.db import Session

from .. import service
from ..schemas import WeakSignalIn
from . import AppDeps, IdempotencyKey

router = APIRouter(prefix="/api/v1/weak-signal-reports", tags=["weak signals"])


def _view(r: dict) -> dict:
    return {k: r[k] for k in ("id", "grid", "community", "category", "summary", "description", "people_involved",
                              "reporter", "reported_at")}


@router.post("", status_code=201, operation_id="report_weak_signal", dependencies=[require_roles(GRID_WORKER)])
async def report(body: WeakSignalIn, response: Response, session: Session, d: AppDeps,
                 principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None):
    row, created = await service.report_weak_signal(session, d, principal, body, idempotency_key)
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return _view(row)


@router.get("", operation_id="list_weak_signals",
            dependencies=[require_roles(GRID_WORKER, DISPATCHER, "leader")])
async def list_signals(session: Session, principal: CurrentPrincipal, limit: int = Query(50, ge=1, le=500),
                       offset: int = Query(0, ge=0, le=1_000_000)):
    return [_view(r) for r in await service.list_weak_signals(session, principal, limit, offset)]

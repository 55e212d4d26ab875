"""The weak-signal ledger (弱信号台账): list, detail with history, status changes, statistics, rules."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from fengqiao_common.db import Session
from pydantic import BaseModel, Field

from .. import queries, service
from ..domain import signals as ws
from .deps import PREFIX, CtxDep, Reader, Triager

router = APIRouter(prefix=f"{PREFIX}/weak-signals", tags=["weak signals"])


class StatusChange(BaseModel):
    status: Literal["assigned", "handled", "dismissed"]
    assignee: str | None = Field(None, max_length=100, description="department code or user id")
    note: str | None = Field(None, max_length=2000)


@router.get("", operation_id="analytics_weak_signals", summary="List weak signals")
async def list_signals(
    session: Session, principal: Reader,
    status: Literal["new", "assigned", "handled", "dismissed"] | None = None,
    rule: str | None = Query(None, max_length=50), grid: str | None = Query(None, max_length=50),
    community: str | None = Query(None, max_length=50),
    limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=1_000_000),
):
    total, rows = await queries.list_signals(session, status=status, rule=rule, grid=grid, community=community,
                                             limit=limit, offset=offset)
    return {"total": total, "items": [queries.public_signal(r, pii=principal.may_see_pii) for r in rows]}


@router.get("/stats", operation_id="analytics_weak_signal_stats",
            summary="Ledger statistics, including how many reported signals later became cases")
async def stats(session: Session, _: Reader):
    return await queries.signal_stats(session)


@router.get("/rules", operation_id="analytics_weak_signal_rules", summary="The rules and their thresholds")
async def rules(ctx: CtxDep, _: Reader):
    return {"rules": [{"code": k, "name_zh": v["zh"], "name_en": v["en"]} for k, v in ws.RULES.items()],
            "thresholds": ctx.thresholds.model_dump(),
            "transitions": {k: sorted(v) for k, v in ws.TRANSITIONS.items()}}


@router.get("/{signal_id}", operation_id="analytics_weak_signal", summary="One weak signal with its history")
async def get_signal(signal_id: str, session: Session, principal: Reader):
    return queries.public_signal(await service.get_signal(session, signal_id), pii=principal.may_see_pii)


@router.post("/{signal_id}/status", operation_id="analytics_weak_signal_status",
             summary="Change a signal's status (new → assigned → handled / dismissed)")
async def change_status(signal_id: str, body: StatusChange, ctx: CtxDep, session: Session, principal: Triager):
    row = await service.change_signal_status(ctx, session, signal_id, body.status, body.assignee, body.note, principal)
    return queries.public_signal(row, pii=principal.may_see_pii)

"""The weak-signal ledger (弱信号台账): list, detail with history, status changes, statistics, rules."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fengqiao_common.validation import no_nul
from pydantic import AfterValidator, BaseModel, Field

from ..usecases import signals
from .access import PREFIX, DepsDep, DrillReader, Reader, Triager
from .schemas import Rules, SignalStats, WeakSignalDetail, WeakSignalPage

router = APIRouter(prefix=f"{PREFIX}/weak-signals", tags=["weak signals"])


class StatusChange(BaseModel):
    status: Literal["assigned", "handled", "dismissed"]
    assignee: Annotated[str | None, AfterValidator(no_nul)] = Field(None, max_length=100,
                                                                    description="department code or user id")
    note: Annotated[str | None, AfterValidator(no_nul)] = Field(None, max_length=2000)


@router.get("", operation_id="analytics_weak_signals", response_model=WeakSignalPage, summary="List weak signals")
async def list_signals(
    deps: DepsDep, principal: DrillReader,
    status: Literal["new", "assigned", "handled", "dismissed"] | None = None,
    rule: str | None = Query(None, max_length=50), grid: str | None = Query(None, max_length=50),
    community: str | None = Query(None, max_length=50),
    limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=1_000_000),
):
    f = signals.SignalFilter(status=status, rule=rule, grid=grid, community=community, limit=limit, offset=offset)
    return await signals.list_signals(deps.uow(), principal, f)


@router.get("/stats", operation_id="analytics_weak_signal_stats", response_model=SignalStats,
            summary="Ledger statistics, including how many reported signals later became cases")
async def stats(deps: DepsDep, _: Reader):
    return await signals.signal_stats(deps.uow())


@router.get("/rules", operation_id="analytics_weak_signal_rules", response_model=Rules,
            summary="The rules and their thresholds")
async def rules(deps: DepsDep, _: Reader):
    return signals.rules(deps.context)


@router.get("/{signal_id}", operation_id="analytics_weak_signal", response_model=WeakSignalDetail,
            summary="One weak signal with its history")
async def get_signal(signal_id: str, deps: DepsDep, principal: DrillReader):
    return await signals.get_signal(deps.uow(), principal, signal_id)


@router.post("/{signal_id}/status", operation_id="analytics_weak_signal_status", response_model=WeakSignalDetail,
             summary="Change a signal's status (new → assigned → handled / dismissed)")
async def change_status(signal_id: str, body: StatusChange, deps: DepsDep, principal: Triager):
    cmd = signals.StatusChange(signal_id, body.status, body.assignee, body.note)
    return await signals.change_status(deps.uow(), principal, cmd)

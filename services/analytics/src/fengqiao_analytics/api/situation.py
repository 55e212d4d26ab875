"""Situation figures: summary and breakdowns, departments and the three rates, mediation, trends."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from fengqiao_common.db import Session

from .. import queries
from .deps import PREFIX, CtxDep, Reader

router = APIRouter(prefix=PREFIX, tags=["situation"])


@router.get("/summary", operation_id="analytics_summary",
            summary="Situation: totals (all time, today, week, month), open, overdue, breakdowns")
async def summary(ctx: CtxDep, session: Session, _: Reader):
    return await queries.summary(ctx, session)


@router.get("/departments", operation_id="analytics_departments",
            summary="Departments ranked by the three rates (response, resolution, satisfaction)")
async def departments(ctx: CtxDep, session: Session, _: Reader):
    return {"ranking_rule": "mean of response, resolution and satisfaction rates; a missing rate counts as 0",
            "items": await queries.departments(ctx, session)}


@router.get("/mediation", operation_id="analytics_mediation",
            summary="Mediation: bookings, sessions, agreements, judicial confirmations")
async def mediation(ctx: CtxDep, session: Session, _: Reader):
    return await queries.mediation(ctx, session)


@router.get("/trends", operation_id="analytics_trends", summary="Cases reported (and resolved) by day or week")
async def trends(ctx: CtxDep, session: Session, _: Reader,
                 period: Literal["day", "week"] = "day",
                 n: int = Query(30, ge=1, le=366, description="number of periods up to today")):
    return await queries.trends(ctx, session, period, n)

"""Situation figures: summary and breakdowns, departments and the three rates, mediation, trends."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Query

from ..usecases import rates, situation
from .access import PREFIX, DepsDep, Reader
from .schemas import DayTrends, DepartmentRatesPage, Departments, Mediation, Summary, WeekTrends

router = APIRouter(prefix=PREFIX, tags=["situation"])
RANKING_RULE = "mean of response, resolution and satisfaction rates; a missing rate counts as 0"


@router.get("/summary", operation_id="analytics_summary", response_model=Summary,
            summary="Situation: totals (all time, today, week, month), open, overdue, breakdowns")
async def summary(deps: DepsDep, _: Reader):
    return await situation.summary(deps.uow(), deps.context)


@router.get("/departments", operation_id="analytics_departments", response_model=Departments,
            summary="Departments ranked by the three rates (response, resolution, satisfaction)")
async def departments(deps: DepsDep, _: Reader):
    return {"ranking_rule": RANKING_RULE, "items": await situation.departments(deps.uow(), deps.context)}


@router.get("/departments/rates", operation_id="analytics_department_rates", response_model=DepartmentRatesPage,
            summary="The three rates by the requester's answers and the dispatch accuracy, per department, "
                    "for a week, month or year: ranking and trend against the previous period")
async def department_rates(deps: DepsDep, _: Reader, period: Literal["week", "month", "year"] = "month",
                           at: date | None = Query(None, description="a day of the period (default: today, local)")):
    return await rates.department_rates(deps.uow(), deps.context, period, at)


@router.get("/mediation", operation_id="analytics_mediation", response_model=Mediation,
            summary="Mediation: bookings, sessions, agreements, judicial confirmations")
async def mediation(deps: DepsDep, _: Reader):
    return await situation.mediation(deps.uow(), deps.context)


@router.get("/trends", operation_id="analytics_trends", response_model=DayTrends | WeekTrends,
            summary="Cases reported (and resolved) by day or week")
async def trends(deps: DepsDep, _: Reader,
                 period: Literal["day", "week"] = "day",
                 n: int = Query(30, ge=1, le=366, description="number of periods up to today")):
    return await situation.trends(deps.uow(), deps.context, period, n)

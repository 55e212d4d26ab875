"""The three rates by the requester's answers per department and period, ranked, with the trend against
the previous period (issue #17, part 3; definitions in domain/rates.py). Read from a_rates, which only the
event fold writes: the figures are recomputed by a replay and cannot be edited."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from fengqiao_common.errors import invalid

from ..domain import rates as rt
from .context import Context

if TYPE_CHECKING:
    from ..adapters.uow import AnalyticsUoW

RANKING_RULE = ("mean of response, resolution and satisfaction rates (a missing rate counts as 0), then volume; "
                "trend and rank change against the previous period")


async def department_rates(uow: AnalyticsUoW, ctx: Context, period: rt.Period, at: date | None = None) -> dict:
    """Every department's figures for the ``period`` (week, month or year) holding ``at`` (default: today,
    local time), and for the period before."""
    day = at or ctx.today(uow.now())
    if not 1970 <= day.year <= 9998:
        raise invalid("at", "日期超出范围（1970–9998 年）", "'at' must be within the years 1970-9998", code="out_of_range",
                      loc=["query", "at"])
    prev_day = rt.previous_day(period, day)
    key, prev = rt.period_key(period, day), rt.period_key(period, prev_day)
    async with uow:
        counts = await uow.rates.read([key, prev])
    j = ctx.jurisdiction
    codes = [d.code for d in j.departments if d.role == "department"]
    codes += sorted({d for (_p, d, _m) in counts} - set(codes))
    cur = [{"code": c, **rt.figures(key, c, counts)} for c in codes]
    before = [{"code": c, **rt.figures(prev, c, counts)} for c in codes]
    rank_now, rank_before = rt.ranked(cur), rt.ranked(before)
    score_before = {d["code"]: d["score"] for d in before}
    items = []
    for d in cur:
        c = d["code"]
        dep = j.department(c)
        r, r0, s0 = rank_now.get(c), rank_before.get(c), score_before[c]
        items.append({
            **d, "name": dep.name if dep else c, "rank": r,
            "previous": {"period": prev, "score": s0, "rank": r0},
            "rank_change": (r0 - r) if (r is not None and r0 is not None) else None,
            "score_change": round(d["score"] - s0, 4) if (d["score"] is not None and s0 is not None) else None,
            "trend": rt.trend(d["score"], s0),
        })
    items.sort(key=lambda x: (x["rank"] is None, x["rank"] or 0, x["code"]))
    start, end = rt.period_bounds(period, day)
    return {"period": period, "key": key, "start": start, "end": end, "previous": prev,
            "ranking_rule": RANKING_RULE, "items": items}

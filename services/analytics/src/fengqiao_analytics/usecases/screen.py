"""The big screen: everything it shows in one snapshot (aggregates only, no personal data), the live
ticker, and the event labels (from the event registry) it shows next to ticker lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fengqiao_events.registry import labels

from ..domain import signals as ws
from . import situation
from .context import Context
from .signals import stats_of

if TYPE_CHECKING:
    from ..adapters.uow import AnalyticsUoW


def event_labels() -> dict[str, dict[str, str]]:
    """``{topic: {"zh", "en"}}`` for every registered event type."""
    return labels()


async def recent_ticker(uow: AnalyticsUoW, ctx: Context, after_id: int = 0, limit: int = 20) -> list[dict]:
    """The newest ticker lines: what happened where (event type, grid, domain, grade, department), never
    which case - the screen is public, so it shows no case numbers (``case_no`` is always null)."""
    async with uow:
        rows = await uow.ticker.recent(after_id, limit)
    j = ctx.jurisdiction
    out = []
    for r in rows:
        g, d, gr = j.grid(r["grid"] or ""), j.domain(r["category"] or ""), j.grade(r["grade"] or "")
        dep = j.department(r["department"] or "")
        out.append({"id": r["id"], "at": r["at"].isoformat(), "topic": r["topic"], "case_no": None,
                    "grid": g.name if g else r["grid"], "category": d.name if d else r["category"],
                    "grade": r["grade"], "grade_name": gr.name if gr else None, "colour": gr.colour if gr else None,
                    "department": dep.name if dep else r["department"]})
    return out


async def snapshot(uow: AnalyticsUoW, ctx: Context) -> dict:
    """Everything the big screen shows: aggregates only, no personal data (one session for all of it)."""
    async with uow:
        s = await situation.summary(uow, ctx)
        deps = await situation.departments(uow, ctx)
        tr = await situation.trends(uow, ctx, "day", 30)
        _, sig = await uow.signals.listed(limit=50, offset=0)
        counts = await uow.signals.counts()
        ticker = await recent_ticker(uow, ctx, 0, 15)
    open_sig = [x for x in sig if x["status"] in ws.OPEN_STATUSES][:12]
    stats = stats_of(counts)
    j = ctx.jurisdiction
    return {
        "generated_at": uow.now().astimezone(ctx.tz).isoformat(),
        "street": j.street.name,
        "headline": {k: s[k] for k in ("total", "today", "open", "overdue", "this_week", "this_month")},
        "today_date": s["today_date"],
        "by_domain": s["by_domain"],
        "by_grade": s["by_grade"],
        "grids": s["by_grid"],
        "trend": tr["series"],
        "departments": [{k: d[k] for k in ("code", "name", "rank", "score", "response_rate", "resolution_rate",
                                           "satisfaction_rate", "dispatched", "overdue_open")} for d in deps],
        "signals": [{"rule": x["rule"], "rule_name": ws.RULES.get(x["rule"] or "", {}).get("zh"),
                     "grid": (g.name if (g := j.grid(x["grid"] or "")) else None),
                     "community": (m.name if (m := j.community(x["community"] or "")) else None),
                     "category": (d.name if (d := j.domain(x["category"] or "")) else x["category"]),
                     "status": x["status"], "first_at": x["first_at"].isoformat() if x["first_at"] else None}
                    for x in open_sig],
        "signal_stats": {"open": stats["open"], "total": stats["total"], "became_cases": stats["became_cases"]},
        "ticker": ticker,
    }

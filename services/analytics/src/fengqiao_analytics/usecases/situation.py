"""Situation figures from the incrementally maintained counters: a handful of indexed rows per request,
never a scan over all cases."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fengqiao_events.registry import spec_for_topic

from ..domain import readmodel as rm
from ..domain.topics import MEDIATION_TOPICS
from .context import Context

if TYPE_CHECKING:
    from ..adapters.uow import AnalyticsUoW

SUMMARY_DIMS = (
    "total", "open", "overdue", "reopened", "domain", "grade", "status", "channel", "grid", "community",
    "department", "open_grid", "open_grade", "open_domain", "open_community", "rating", "orders", "order_status",
)
DEPT_DIMS = (
    "d_dispatched", "d_signed", "d_signed_within", "d_resolved", "d_resolved_within", "d_returned",
    "d_onsite_required", "d_onsite_within", "d_rated", "d_satisfied", "d_overdue", "d_overdue_open",
    "d_escalated", "d_ttr_sum", "d_ttr_n", "d_ttr_hist", "department",
)
STATUS_ZH = {"reported": "待受理", "queued": "待派单", "in_progress": "办理中", "resolved": "已办结",
             "closed": "已结案", "merged": "已合并"}
CHANNEL_ZH = {"grid_app": "网格上报", "petition": "信访超市", "external": "外部系统", "open311": "Open311"}
# the short labels of the mediation breakdown (keys of its rows); other mediation events use the registry's
_SHORT_ZH = {
    "mediation.booked": "预约", "mediation.rescheduled": "改约", "mediation.cancelled": "取消",
    "session.sealed": "调解场次（过程确认）", "agreement.generated": "调解协议", "judicial.applied": "申请司法确认",
    "judicial.rejected": "司法确认驳回", "mediation.confirmed": "司法确认", "mediation.failed": "调解不成",
    "mediation.referred": "转调解",
}
MEDIATION_ZH = {t: _SHORT_ZH.get(t) or spec_for_topic(t).label_zh for t in sorted(MEDIATION_TOPICS)} | {"home": "上门调解"}


def _by(c: dict, dim: str) -> dict[str, int]:
    return {k: v for (d, k), v in c.items() if d == dim and v}


def _period_keys(ctx: Context, today: date) -> dict[str, tuple[str, str]]:
    t = datetime.combine(today, datetime.min.time(), tzinfo=ctx.tz)
    return {"today": ("day", today.isoformat()), "week": ("week", rm.local_week(t, ctx.tz)),
            "month": ("month", today.isoformat()[:7])}


async def summary(uow: AnalyticsUoW, ctx: Context) -> dict[str, Any]:
    today = ctx.today(uow.now())
    periods = _period_keys(ctx, today)
    async with uow:
        c = await uow.counters.read((*SUMMARY_DIMS, "med"), list(periods.values()))
    j = ctx.jurisdiction
    dom, opend = _by(c, "domain"), _by(c, "open_domain")
    grade, openg = _by(c, "grade"), _by(c, "open_grade")
    grid, openi = _by(c, "grid"), _by(c, "open_grid")
    comm, openc = _by(c, "community"), _by(c, "open_community")
    known_dom = {d.code for d in j.domains}
    return {
        "today_date": today.isoformat(),
        "timezone": ctx.timezone,
        "total": c.get(("total", "all"), 0),
        "today": c.get(periods["today"], 0),
        "this_week": c.get(periods["week"], 0),
        "this_month": c.get(periods["month"], 0),
        "open": c.get(("open", "all"), 0),
        "overdue": c.get(("overdue", "all"), 0),
        "reopened": c.get(("reopened", "all"), 0),
        "orders": c.get(("orders", "all"), 0),
        "by_domain": [{"code": d.code, "name": d.name, "count": dom.get(d.code, 0), "open": opend.get(d.code, 0)}
                      for d in j.domains]
        + [{"code": k, "name": k, "count": v, "open": opend.get(k, 0)} for k, v in sorted(dom.items())
           if k not in known_dom],
        "by_grade": [{"code": g.code, "name": g.name, "colour": g.colour, "count": grade.get(g.code, 0),
                      "open": openg.get(g.code, 0)} for g in j.grades],
        "by_status": [{"code": s, "name": STATUS_ZH[s], "count": _by(c, "status").get(s, 0)} for s in rm.CASE_STATUSES],
        "by_channel": [{"code": k, "name": CHANNEL_ZH.get(k, k), "count": v} for k, v in sorted(_by(c, "channel").items())],
        "by_grid": [{"code": g.code, "name": g.name, "community": g.community, "row": g.layout.row,
                     "col": g.layout.col, "count": grid.get(g.code, 0), "open": openi.get(g.code, 0)} for g in j.grids],
        "unlocated": grid.get("-", 0),
        "by_community": [{"code": m.code, "name": m.name, "count": comm.get(m.code, 0), "open": openc.get(m.code, 0)}
                         for m in j.communities],
        "by_department": [{"code": d.code, "name": d.name, "count": v} for d in j.departments
                          if (v := _by(c, "department").get(d.code, 0))],
        "ratings": _by(c, "rating"),
        "orders_by_status": _by(c, "order_status"),
    }


async def departments(uow: AnalyticsUoW, ctx: Context) -> list[dict]:
    """Departments with the three rates, ranked (domain/readmodel.rank)."""
    async with uow:
        c = await uow.counters.read(DEPT_DIMS)
    hist: dict[str, dict[int, int]] = defaultdict(dict)
    for (d, k), v in c.items():
        if d == "d_ttr_hist" and v:
            dept, b = k.rsplit("|", 1)
            hist[dept][int(b)] = v
    codes = [d.code for d in ctx.jurisdiction.departments if d.role == "department"]
    extra = sorted({k for (d, k) in c if d == "d_dispatched"} - set(codes))
    out = []
    for code in codes + extra:
        dep = ctx.jurisdiction.department(code)
        fig = rm.department_figures(code, c, hist.get(code, {}))
        out.append({"code": code, "name": dep.name if dep else code, "level": dep.level if dep else None, **fig})
    return rm.rank(out)


async def mediation(uow: AnalyticsUoW, ctx: Context) -> dict:
    async with uow:
        c = await uow.counters.read(("med", "med_cat"))
    med = _by(c, "med")
    cats: dict[str, dict[str, int]] = defaultdict(dict)
    for k, v in _by(c, "med_cat").items():
        topic, cat = k.split("|", 1)
        cats[cat][topic] = v
    names = {m.code: m.name for m in ctx.jurisdiction.mediation_categories}
    return {
        "bookings": med.get("mediation.booked", 0),
        "rescheduled": med.get("mediation.rescheduled", 0),
        "cancelled": med.get("mediation.cancelled", 0),
        "home_visits": med.get("home", 0),
        "sessions": med.get("session.sealed", 0),
        "agreements": med.get("agreement.generated", 0),
        "judicial_applied": med.get("judicial.applied", 0),
        "judicial_material_requested": med.get("judicial-material.requested", 0),
        "judicial_reminded": med.get("judicial.reminded", 0),
        "judicial_confirmed": med.get("mediation.confirmed", 0),
        "judicial_rejected": med.get("judicial.rejected", 0),
        "failed": med.get("mediation.failed", 0),
        "referred": med.get("mediation.referred", 0),
        "by_category": [{"code": k, "name": names.get(k, k), **{MEDIATION_ZH.get(t, t): n for t, n in v.items()},
                         "counts": v} for k, v in sorted(cats.items())],
    }


async def trends(uow: AnalyticsUoW, ctx: Context, period: str, n: int) -> dict:
    today = ctx.today(uow.now())
    if period == "day":
        labels = [(today - timedelta(days=i)).isoformat() for i in range(n - 1, -1, -1)]
        keys = [("day", k) for k in labels] + [("resolved_day", k) for k in labels]
        async with uow:
            c = await uow.counters.read((), keys)
        return {"period": "day", "series": [
            {"period": k, "reported": c.get(("day", k), 0), "resolved": c.get(("resolved_day", k), 0)} for k in labels]}
    labels = []
    for i in range(n - 1, -1, -1):
        t = datetime.combine(today - timedelta(weeks=i), datetime.min.time(), tzinfo=ctx.tz)
        labels.append(rm.local_week(t, ctx.tz))
    async with uow:
        c = await uow.counters.read((), [("week", k) for k in labels])
    return {"period": "week", "series": [{"period": k, "reported": c.get(("week", k), 0)} for k in labels]}

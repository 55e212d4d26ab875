"""Read use cases: figures from the incrementally maintained counters (a handful of indexed rows per
request, never a scan over all cases), the weak-signal ledger, exports."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from .adapters.orm import cases, counters, orders, signals, ticker
from .domain import readmodel as rm
from .domain import signals as ws
from .service import Ctx

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
MEDIATION_ZH = {
    "mediation.booked": "预约", "mediation.rescheduled": "改约", "mediation.cancelled": "取消",
    "session.sealed": "调解场次（过程确认）", "agreement.generated": "调解协议", "judicial.applied": "申请司法确认",
    "judicial.rejected": "司法确认驳回", "mediation.confirmed": "司法确认", "mediation.failed": "调解不成",
    "mediation.referred": "转调解", "home": "上门调解",
}


async def read_counters(session: AsyncSession, dims: tuple[str, ...] | list[str],
                        keys: list[tuple[str, str]] = ()) -> dict[tuple[str, str], int]:
    cond = counters.c.dim.in_(list(dims))
    if keys:
        cond = or_(cond, tuple_(counters.c.dim, counters.c.key).in_(list(keys)))
    rows = (await session.execute(select(counters.c.dim, counters.c.key, counters.c.value).where(cond))).all()
    return {(d, k): int(v) for d, k, v in rows}


def _by(c: dict, dim: str) -> dict[str, int]:
    return {k: v for (d, k), v in c.items() if d == dim and v}


def _period_keys(ctx: Ctx, today: date) -> dict[str, tuple[str, str]]:
    t = datetime.combine(today, datetime.min.time(), tzinfo=ctx.tz)
    return {"today": ("day", today.isoformat()), "week": ("week", rm.local_week(t, ctx.tz)),
            "month": ("month", today.isoformat()[:7])}


async def summary(ctx: Ctx, session: AsyncSession) -> dict[str, Any]:
    today = ctx.today()
    periods = _period_keys(ctx, today)
    c = await read_counters(session, (*SUMMARY_DIMS, "med"), list(periods.values()))
    j = ctx.jurisdiction
    dom, opend = _by(c, "domain"), _by(c, "open_domain")
    grade, openg = _by(c, "grade"), _by(c, "open_grade")
    grid, openi = _by(c, "grid"), _by(c, "open_grid")
    comm, openc = _by(c, "community"), _by(c, "open_community")
    known_dom = {d.code for d in j.domains}
    return {
        "today_date": today.isoformat(),
        "timezone": ctx.settings.timezone,
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


async def departments(ctx: Ctx, session: AsyncSession) -> list[dict]:
    c = await read_counters(session, DEPT_DIMS)
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


async def mediation(ctx: Ctx, session: AsyncSession) -> dict:
    c = await read_counters(session, ("med", "med_cat"))
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
        "judicial_confirmed": med.get("mediation.confirmed", 0),
        "judicial_rejected": med.get("judicial.rejected", 0),
        "failed": med.get("mediation.failed", 0),
        "referred": med.get("mediation.referred", 0),
        "by_category": [{"code": k, "name": names.get(k, k), **{MEDIATION_ZH.get(t, t): n for t, n in v.items()},
                         "counts": v} for k, v in sorted(cats.items())],
    }


async def trends(ctx: Ctx, session: AsyncSession, period: str, n: int) -> dict:
    today = ctx.today()
    if period == "day":
        labels = [(today - timedelta(days=i)).isoformat() for i in range(n - 1, -1, -1)]
        keys = [("day", k) for k in labels] + [("resolved_day", k) for k in labels]
        c = await read_counters(session, (), keys)
        return {"period": "day", "series": [
            {"period": k, "reported": c.get(("day", k), 0), "resolved": c.get(("resolved_day", k), 0)} for k in labels]}
    labels = []
    for i in range(n - 1, -1, -1):
        t = datetime.combine(today - timedelta(weeks=i), datetime.min.time(), tzinfo=ctx.tz)
        labels.append(rm.local_week(t, ctx.tz))
    c = await read_counters(session, (), [("week", k) for k in labels])
    return {"period": "week", "series": [{"period": k, "reported": c.get(("week", k), 0)} for k in labels]}


# --- weak-signal ledger ---------------------------------------------------------------------------------
LISTED = and_(signals.c.source != "pending", or_(signals.c.active, signals.c.status != "new"))


def public_signal(row: dict, *, pii: bool) -> dict:
    out = {k: row[k] for k in ("signal_id", "source", "rule", "grid", "community", "category", "reasons",
                               "case_ids", "people_involved", "active", "status", "assignee", "first_at",
                               "became_case_id", "became_case_at", "updated_at", "summary") if k in row}
    out["rule_name"] = ws.RULES.get(row.get("rule") or "", {}).get("zh")
    # the requester rule's subject is a pseudonymous requester id: only for roles that may see personal data
    out["subject"] = row.get("subject") if (pii or row.get("rule") != "repeat_requester") else "***"
    if "history" in row:
        out["history"] = row["history"]
    return out


async def list_signals(session: AsyncSession, *, status: str | None, rule: str | None, grid: str | None,
                       community: str | None, limit: int, offset: int) -> tuple[int, list[dict]]:
    conds = [LISTED]
    if status:
        conds.append(signals.c.status == status)
    if rule:
        conds.append(signals.c.rule == rule)
    if grid:
        conds.append(signals.c.grid == grid)
    if community:
        conds.append(signals.c.community == community)
    total = (await session.execute(select(func.count()).select_from(signals).where(*conds))).scalar_one()
    rows = (await session.execute(
        select(signals).where(*conds).order_by(signals.c.first_at.desc().nulls_last(), signals.c.signal_id)
        .limit(limit).offset(offset)
    )).mappings().all()
    return int(total), [dict(r) for r in rows]


async def signal_stats(session: AsyncSession) -> dict:
    rows = (await session.execute(
        select(signals.c.rule, signals.c.status, func.count(), func.count(signals.c.became_case_id))
        .where(LISTED).group_by(signals.c.rule, signals.c.status)
    )).all()
    by_status: dict[str, int] = defaultdict(int)
    by_rule: dict[str, int] = defaultdict(int)
    total = converted = 0
    for rule, status, n, conv in rows:
        by_status[status] += n
        by_rule[rule] += n
        total += n
        converted += conv
    reports = sum(n for rule, _s, n, _c in rows if rule == "grid_report")
    return {"total": total, "by_status": {s: by_status.get(s, 0) for s in ws.STATUSES}, "by_rule": dict(by_rule),
            "open": by_status.get("new", 0) + by_status.get("assigned", 0),
            "reports": reports, "became_cases": converted,
            "conversion_rate": rm.rate(converted, reports)}


# --- screen ---------------------------------------------------------------------------------------------
async def recent_ticker(ctx: Ctx, session: AsyncSession, after_id: int = 0, limit: int = 20) -> list[dict]:
    rows = (await session.execute(
        select(ticker).where(ticker.c.id > after_id).order_by(ticker.c.id.desc()).limit(limit)
    )).mappings().all()
    j = ctx.jurisdiction
    out = []
    for r in reversed(rows):
        g, d, gr = j.grid(r["grid"] or ""), j.domain(r["category"] or ""), j.grade(r["grade"] or "")
        dep = j.department(r["department"] or "")
        out.append({"id": r["id"], "at": r["at"].isoformat(), "topic": r["topic"], "case_no": r["case_no"],
                    "grid": g.name if g else r["grid"], "category": d.name if d else r["category"],
                    "grade": r["grade"], "grade_name": gr.name if gr else None, "colour": gr.colour if gr else None,
                    "department": dep.name if dep else r["department"]})
    return out


async def screen_snapshot(ctx: Ctx, session: AsyncSession) -> dict:
    """Everything the big screen shows: aggregates only, no personal data."""
    s = await summary(ctx, session)
    deps = await departments(ctx, session)
    tr = await trends(ctx, session, "day", 30)
    _, sig = await list_signals(session, status=None, rule=None, grid=None, community=None, limit=50, offset=0)
    open_sig = [x for x in sig if x["status"] in ws.OPEN_STATUSES][:12]
    stats = await signal_stats(session)
    j = ctx.jurisdiction
    return {
        "generated_at": datetime.now(ctx.tz).isoformat(),
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
        "ticker": await recent_ticker(ctx, session, 0, 15),
    }


# --- exports --------------------------------------------------------------------------------------------
CASE_COLUMNS = ("case_id", "case_no", "status", "channel", "category", "grade", "grid", "community",
                "reported_at", "people_involved", "departments", "resolved_at", "closed_at", "reopen_count",
                "return_count", "escalation_count", "overdue_orders", "rating", "merged_into", "requester_ref",
                "summary")
ORDER_COLUMNS = ("order_id", "case_id", "case_no", "department", "level", "role", "category", "grade", "grid",
                 "community", "status", "dispatched_at", "signed_at", "sign_within", "checked_in_at",
                 "checkin_within", "resolved_at", "resolve_within", "returned_at", "verified_at", "missed_stages",
                 "reminders", "escalations", "officer")
SIGNAL_COLUMNS = ("signal_id", "source", "rule", "status", "assignee", "grid", "community", "category",
                  "people_involved", "first_at", "became_case_id", "reasons", "subject", "summary")
PII_COLUMNS = {"cases": {"requester_ref"}, "orders": {"officer"}, "signals": {"subject"}}


def export_query(kind: str, f: dict):
    if kind == "cases":
        t, ts = cases, cases.c.reported_at
        conds = [cases.c.reported]
        for k, col in (("domain", "category"), ("grade", "grade"), ("status", "status"), ("grid", "grid"),
                       ("community", "community"), ("channel", "channel")):
            if f.get(k):
                conds.append(cases.c[col] == f[k])
        if f.get("department"):
            conds.append(cases.c.departments.contains([f["department"]]))
        cols, order = [cases.c[c] for c in CASE_COLUMNS], cases.c.reported_at
    elif kind == "orders":
        t, ts = orders, orders.c.dispatched_at
        conds = []
        for k, col in (("domain", "category"), ("grade", "grade"), ("status", "status"), ("grid", "grid"),
                       ("community", "community"), ("department", "department")):
            if f.get(k):
                conds.append(orders.c[col] == f[k])
        cols, order = [orders.c[c] for c in ORDER_COLUMNS], orders.c.dispatched_at
    else:
        t, ts = signals, signals.c.first_at
        conds = [LISTED]
        for k, col in (("domain", "category"), ("status", "status"), ("grid", "grid"), ("community", "community"),
                       ("rule", "rule")):
            if f.get(k):
                conds.append(signals.c[col] == f[k])
        cols, order = [signals.c[c] for c in SIGNAL_COLUMNS], signals.c.first_at
    if f.get("date_from"):
        conds.append(ts >= datetime.combine(f["date_from"], datetime.min.time(), tzinfo=f["tz"]))
    if f.get("date_to"):
        conds.append(ts < datetime.combine(f["date_to"] + timedelta(days=1), datetime.min.time(), tzinfo=f["tz"]))
    return select(*cols).select_from(t).where(*conds).order_by(order.asc().nulls_last())

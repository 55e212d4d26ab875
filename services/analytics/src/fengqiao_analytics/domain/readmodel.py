"""Read-model reducers and counter contributions (pure).

A case (or order) row is a plain dict of *facts* merged from events that may arrive in any order: every
reducer is commutative (latest timestamp wins, counts add up, first sign-for wins), so the final row does
not depend on the arrival order. The aggregate counters are kept incrementally as the difference between a
row's contributions before and after an event, so a row is always counted exactly once in every dimension.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

Row = dict[str, Any]
Key = tuple[str, str]

OPEN_STATUSES = ("reported", "queued", "in_progress")
CASE_STATUSES = ("reported", "queued", "in_progress", "resolved", "closed", "merged")
ORDER_OPEN = ("dispatched", "signed", "on_site", "rework")
SATISFIED = ("satisfied", "basically_satisfied")
WAGE_TERMS = ("欠薪", "拖欠工资", "讨薪", "欠工资", "工资拖欠", "wage arrears", "unpaid wages")

CASE_DEFAULTS: Row = {
    "case_no": None, "reported": False, "channel": None, "category": None, "grade": None, "grade_at": None,
    "grid": None, "community": None, "reported_at": None, "people_involved": 0, "requester_ref": None,
    "wage_arrears": False, "summary": None, "queued": False, "departments": [], "resolved_at": None,
    "closed_at": None, "reopened_at": None, "reopen_count": 0, "return_count": 0, "escalation_count": 0,
    "overdue_orders": 0, "merged_into": None, "rating": None, "rated_at": None, "solved": None,
    "status": "reported",
}
ORDER_DEFAULTS: Row = {
    "case_no": None, "level": None, "role": None, "category": None, "grade": None, "grid": None,
    "community": None, "dispatched": False, "dispatched_at": None, "on_site_required": True, "resolve_by": None,
    "sign_for_by": None,
    "signed_at": None, "sign_within": None, "checked_in_at": None, "checkin_within": None,
    "resolved_at": None, "resolve_within": None, "resolve_seq": None, "returned_at": None, "verified_at": None,
    "verified_accepted": None, "verify_seq": None, "missed_stages": [], "reminders": 0, "escalations": 0,
    "status": "dispatched",
}


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def is_wage_arrears(category: str | None, *texts: str | None, keywords: list[str] | None = None) -> bool:
    if category != "labour":
        return False
    blob = " ".join([*(t or "" for t in texts), *(keywords or [])]).lower()
    return any(term in blob for term in WAGE_TERMS)


# --- cases ----------------------------------------------------------------------------------------------
def apply_case_event(row: Row, topic: str, p: Any) -> Row:
    """Merge one intake/dispatch event into a case row (returns a new dict)."""
    c = {**CASE_DEFAULTS, **row}
    if getattr(p, "case_no", None) and not c["case_no"]:
        c["case_no"] = p.case_no
    if topic == "grid.event.reported":
        c.update(
            reported=True, case_no=p.case_no, channel=p.channel, category=p.category,
            # a grid already set came from a case.transferred read before the report (another topic)
            grid=c["grid"] or p.grid, community=c["community"] or p.community,
            reported_at=p.reported_at, people_involved=p.people_involved,
            requester_ref=p.requester_ref, summary=p.summary,
            wage_arrears=is_wage_arrears(p.category, p.summary, p.description, keywords=p.keywords),
        )
        if c["grade_at"] is None or c["grade_at"] <= p.reported_at:
            c["grade"], c["grade_at"] = p.grade, p.reported_at
    elif topic == "case.regraded":
        if c["grade_at"] is None or c["grade_at"] <= p.at:
            c["grade"], c["grade_at"] = p.new_grade, p.at
    elif topic == "case.transferred":  # one topic, keyed by case: transfers of a case arrive in order
        c["grid"], c["community"] = p.to_grid, p.to_community or c["community"]
    elif topic == "case.merged":
        c["merged_into"] = p.into_case_id
    elif topic == "case.rated":
        if c["rated_at"] is None or c["rated_at"] <= p.at:
            # the requester's "was it solved?" (issue #17), when the event carries it
            c["rating"], c["rated_at"], c["solved"] = p.rating, p.at, getattr(p, "solved", None)
    elif topic == "case.reopened":
        c["reopen_count"] += 1
        c["reopened_at"] = _later(c["reopened_at"], p.at)
    elif topic == "case.queued":
        c["queued"] = True
    elif topic == "case.resolved":
        c["resolved_at"] = _later(c["resolved_at"], p.at)
    elif topic == "case.closed":
        c["closed_at"] = _later(c["closed_at"], p.at)
    elif topic == "order.returned":
        c["return_count"] += 1
    elif topic == "order.escalated":
        c["escalation_count"] += 1
    c["status"] = case_status(c)
    return c


def case_status(c: Mapping[str, Any]) -> str:
    if c.get("merged_into"):
        return "merged"
    reopened = c.get("reopened_at")

    def after_reopen(t: datetime | None) -> bool:
        return t is not None and (reopened is None or t > reopened)

    if after_reopen(c.get("closed_at")):
        return "closed"
    if after_reopen(c.get("resolved_at")):
        return "resolved"
    if c.get("departments"):
        return "in_progress"
    if c.get("queued"):
        return "queued"
    return "reported"


def is_open(c: Mapping[str, Any]) -> bool:
    return c.get("status") in OPEN_STATUSES


def local_day(t: datetime, tz: tzinfo) -> str:
    return t.astimezone(tz).date().isoformat()


def local_week(t: datetime, tz: tzinfo) -> str:
    y, w, _ = t.astimezone(tz).isocalendar()
    return f"{y}-W{w:02d}"


def case_contributions(c: Mapping[str, Any], tz: tzinfo) -> Counter:
    """The (dimension, key) counters one case contributes to; empty until its report has been seen."""
    out: Counter = Counter()
    if not c.get("reported"):
        return out
    at = c["reported_at"]
    grid, comm = c.get("grid") or "-", c.get("community") or "-"
    status = c.get("status") or case_status(c)
    for k in (("total", "all"), ("day", local_day(at, tz)), ("week", local_week(at, tz)),
              ("month", local_day(at, tz)[:7]), ("domain", c["category"]), ("grade", c["grade"]),
              ("channel", c["channel"]), ("grid", grid), ("community", comm), ("status", status)):
        out[k] += 1
    if status in OPEN_STATUSES:
        for k in (("open", "all"), ("open_grid", grid), ("open_grade", c["grade"]),
                  ("open_domain", c["category"]), ("open_community", comm)):
            out[k] += 1
        if c.get("overdue_orders", 0) > 0:
            out[("overdue", "all")] += 1
    if status in ("resolved", "closed") and c.get("resolved_at"):
        out[("resolved_day", local_day(c["resolved_at"], tz))] += 1
    if c.get("reopen_count", 0) > 0:
        out[("reopened", "all")] += 1
    for d in c.get("departments") or ():
        out[("department", d)] += 1
    if c.get("rating"):
        out[("rating", c["rating"])] += 1
        for d in c.get("departments") or ():
            out[("d_rated", d)] += 1
            if c["rating"] in SATISFIED:
                out[("d_satisfied", d)] += 1
    return out


# --- orders ---------------------------------------------------------------------------------------------
def apply_order_event(row: Row, topic: str, p: Any) -> Row:
    o = {**ORDER_DEFAULTS, **row}
    o["department"] = o.get("department") or p.department
    o["case_id"] = o.get("case_id") or p.case_id
    if p.case_no and not o["case_no"]:
        o["case_no"] = p.case_no
    if topic == "order.dispatched":
        o.update(
            dispatched=True, dispatched_at=p.at, department=p.department, level=p.level, role=p.role,
            category=p.category, grade=p.grade, grid=p.grid, community=p.community,
            on_site_required=p.on_site_required, resolve_by=p.deadlines.resolve_by,
            sign_for_by=p.deadlines.sign_for_by,
        )
    elif topic == "order.signed":
        if o["signed_at"] is None or p.at < o["signed_at"]:
            o["signed_at"], o["sign_within"] = p.at, p.within_limit  # the officer's name is not kept
    elif topic == "department.checked-in":
        if o["checked_in_at"] is None or p.at < o["checked_in_at"]:
            o["checked_in_at"], o["checkin_within"] = p.at, p.within_limit
    elif topic == "order.resolved":
        if o["resolve_seq"] is None or p.seq >= o["resolve_seq"]:
            o["resolved_at"], o["resolve_within"], o["resolve_seq"] = p.at, p.within_limit, p.seq
    elif topic == "order.returned":
        o["returned_at"] = _earlier(o["returned_at"], p.at)
    elif topic == "order.verified":
        if o["verify_seq"] is None or p.seq >= o["verify_seq"]:
            o["verified_at"], o["verified_accepted"], o["verify_seq"] = p.at, p.accepted, p.seq
    elif topic == "order.reminded":
        o["reminders"] += 1
    elif topic == "deadline.missed":
        o["missed_stages"] = sorted({*o["missed_stages"], p.stage})
    elif topic == "order.escalated":
        o["escalations"] += 1
    o["status"] = order_status(o)
    return o


def order_status(o: Mapping[str, Any]) -> str:
    if o.get("returned_at"):
        return "returned"
    rs, vs = o.get("resolve_seq"), o.get("verify_seq")
    if vs is not None and (rs is None or vs > rs):
        return "verified" if o.get("verified_accepted") else "rework"
    if o.get("resolved_at"):
        return "resolved"
    if o.get("checked_in_at"):
        return "on_site"
    if o.get("signed_at"):
        return "signed"
    return "dispatched"


# time-to-resolve histogram: bucket i holds durations in (1.2^(i-1), 1.2^i] minutes
_BASE = 1.2


def ttr_bucket(seconds: float) -> int:
    minutes = max(seconds / 60.0, 1.0)
    return math.ceil(round(math.log(minutes, _BASE), 9))


def bucket_upper_seconds(i: int) -> float:
    return (_BASE ** i) * 60.0


def order_contributions(o: Mapping[str, Any]) -> Counter:
    out: Counter = Counter()
    d = o.get("department")
    if not d:
        return out
    status = o.get("status") or order_status(o)
    returned = bool(o.get("returned_at"))
    if o.get("dispatched"):
        out[("d_dispatched", d)] += 1
        out[("orders", "all")] += 1
        out[("order_status", status)] += 1
        if o.get("on_site_required") and not returned:
            out[("d_onsite_required", d)] += 1
            if o.get("checked_in_at") and o.get("checkin_within"):
                out[("d_onsite_within", d)] += 1
    if o.get("signed_at"):
        out[("d_signed", d)] += 1
        if o.get("sign_within"):
            out[("d_signed_within", d)] += 1
    if o.get("resolved_at"):
        out[("d_resolved", d)] += 1
        if o.get("resolve_within"):
            out[("d_resolved_within", d)] += 1
        if o.get("dispatched_at"):
            secs = max(0.0, (o["resolved_at"] - o["dispatched_at"]).total_seconds())
            out[("d_ttr_sum", d)] += int(secs)
            out[("d_ttr_n", d)] += 1
            out[("d_ttr_hist", f"{d}|{ttr_bucket(secs)}")] += 1
    if returned:
        out[("d_returned", d)] += 1
    if o.get("missed_stages"):
        out[("d_overdue", d)] += 1
        if status in ORDER_OPEN:
            out[("d_overdue_open", d)] += 1
    if o.get("escalations", 0) > 0:
        out[("d_escalated", d)] += 1
    return out


def case_aggregates_from_orders(order_rows: list[Mapping[str, Any]]) -> tuple[list[str], int]:
    """(departments with an order still standing, number of open overdue orders) of one case."""
    depts = sorted({o["department"] for o in order_rows if o.get("dispatched") and o.get("status") != "returned"})
    overdue = sum(1 for o in order_rows if o.get("missed_stages") and o.get("status") in ORDER_OPEN)
    return depts, overdue


def diff(old: Counter, new: Counter) -> dict[Key, int]:
    keys = set(old) | set(new)
    return {k: new.get(k, 0) - old.get(k, 0) for k in sorted(keys) if new.get(k, 0) != old.get(k, 0)}


# --- figures from counters ------------------------------------------------------------------------------
def rate(num: int, den: int) -> float | None:
    if den <= 0:
        return None
    return round(min(1.0, num / den), 4)


def p90_from_hist(hist: Mapping[int, int]) -> float | None:
    n = sum(hist.values())
    if n == 0:
        return None
    need = math.ceil(0.9 * n)
    cum = 0
    for i in sorted(hist):
        cum += hist[i]
        if cum >= need:
            return round(bucket_upper_seconds(i), 1)
    return None


def department_figures(dept: str, c: Mapping[tuple[str, str], int], hist: Mapping[int, int]) -> dict:
    g = lambda dim: int(c.get((dim, dept), 0))  # noqa: E731
    dispatched, returned = g("d_dispatched"), g("d_returned")
    n = g("d_ttr_n")
    fig = {
        "dispatched": dispatched, "signed": g("d_signed"), "signed_within": g("d_signed_within"),
        "resolved": g("d_resolved"), "resolved_within": g("d_resolved_within"), "returned": returned,
        "on_site_required": g("d_onsite_required"), "on_site_within": g("d_onsite_within"),
        "rated": g("d_rated"), "satisfied": g("d_satisfied"), "overdue": g("d_overdue"),
        "overdue_open": g("d_overdue_open"), "escalated": g("d_escalated"), "cases": g("department"),
        "response_rate": rate(g("d_signed_within"), dispatched),
        "resolution_rate": rate(g("d_resolved"), dispatched - returned),
        "satisfaction_rate": rate(g("d_satisfied"), g("d_rated")),
        "on_site_rate": rate(g("d_onsite_within"), g("d_onsite_required")),
        "mean_resolve_seconds": round(g("d_ttr_sum") / n, 1) if n else None,
        "p90_resolve_seconds": p90_from_hist(hist),
    }
    rates = [fig["response_rate"], fig["resolution_rate"], fig["satisfaction_rate"]]
    fig["score"] = round(sum(r or 0.0 for r in rates) / 3, 4) if dispatched else None
    return fig


def rank(departments: list[dict]) -> list[dict]:
    """Rank by the mean of the three rates (a missing rate counts as 0), then by volume; departments
    without orders come last, unranked."""
    ranked = sorted((d for d in departments if d["score"] is not None),
                    key=lambda d: (-d["score"], -d["dispatched"], d["code"]))
    for i, d in enumerate(ranked, 1):
        d["rank"] = i
    rest = [d | {"rank": None} for d in departments if d["score"] is None]
    return ranked + rest


def ticker_row(topic: str, at: datetime | None, *, case_no=None, grid=None, category=None, grade=None,
               department=None) -> Row:
    """One line of the live ticker (no personal data)."""
    return {"at": at, "topic": topic, "case_no": case_no, "grid": grid, "category": category, "grade": grade,
            "department": department}

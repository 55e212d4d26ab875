"""The three rates by the requester's answers, per department and period (issue #17, part 3) - pure.

Every figure is a count in ``a_rates (period, department, measure)``, kept incrementally like the counters
(the difference between a row's contributions before and after an event), so it is a function of the event
log alone: a replay recomputes it, nobody can edit it.

- **response rate** = orders signed for in time / orders dispatched. In time: signed no later than the
  ``sign_for_by`` deadline of ``order.dispatched``; without a deadline, dispatch's ``within_limit``.
- **resolution rate** = rated cases the requester says are solved / rated cases. "Solved" is the
  requester's answer ``solved`` on ``case.rated`` when the event carries it; an answer without it counts
  as solved unless the rating is "unsatisfied" (an unsatisfied rating reopens the case).
- **satisfaction rate** = (satisfied + basically satisfied) / rated cases.
- **dispatch accuracy** = orders not returned / orders dispatched.

Orders count in the periods of their dispatch, ratings in the periods of the (latest) answer, for every
department with a standing order on the case. Periods are local (Asia/Shanghai): ISO week ``2026-W48``,
month ``2026-11``, year ``2026``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Literal

Period = Literal["week", "month", "year"]
PERIODS: tuple[Period, ...] = ("week", "month", "year")
SATISFIED = ("satisfied", "basically_satisfied")
ORDER_MEASURES = ("dispatched", "signed_in_time", "returned")
CASE_MEASURES = ("rated", "solved", "satisfied", "solved_answers")
RateKey = tuple[str, str, str]  # (period, department, measure)


def period_key(kind: str, d: date) -> str:
    if kind == "week":
        y, w, _ = d.isocalendar()
        return f"{y}-W{w:02d}"
    return f"{d.year}-{d.month:02d}" if kind == "month" else f"{d.year}"


def period_bounds(kind: str, d: date) -> tuple[date, date]:
    """First and last day of the period holding ``d``."""
    if kind == "week":
        start = d - timedelta(days=d.weekday())
        return start, start + timedelta(days=6)
    if kind == "month":
        start = d.replace(day=1)
        return start, (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return date(d.year, 1, 1), date(d.year, 12, 31)


def previous_day(kind: str, d: date) -> date:
    """A day of the period before the one holding ``d``."""
    return period_bounds(kind, d)[0] - timedelta(days=1)


def periods_of(t: datetime, tz: tzinfo) -> tuple[str, str, str]:
    d = t.astimezone(tz).date()
    return tuple(period_key(k, d) for k in PERIODS)  # type: ignore[return-value]


def signed_in_time(o: Mapping[str, Any]) -> bool:
    if o.get("signed_at") is None:
        return False
    if o.get("sign_for_by") is not None:
        return o["signed_at"] <= o["sign_for_by"]
    return bool(o.get("sign_within"))


def requester_solved(c: Mapping[str, Any]) -> bool:
    if c.get("solved") is not None:
        return bool(c["solved"])
    return c.get("rating") != "unsatisfied"


def order_rate_contributions(o: Mapping[str, Any], tz: tzinfo) -> Counter:
    out: Counter = Counter()
    d = o.get("department")
    if not (d and o.get("dispatched") and o.get("dispatched_at")):
        return out
    ontime, returned = signed_in_time(o), bool(o.get("returned_at"))
    for p in periods_of(o["dispatched_at"], tz):
        out[(p, d, "dispatched")] += 1
        if ontime:
            out[(p, d, "signed_in_time")] += 1
        if returned:
            out[(p, d, "returned")] += 1
    return out


def case_rate_contributions(c: Mapping[str, Any], tz: tzinfo) -> Counter:
    out: Counter = Counter()
    if not (c.get("rating") and c.get("rated_at")):
        return out
    solved, satisfied, explicit = requester_solved(c), c["rating"] in SATISFIED, c.get("solved") is not None
    for d in c.get("departments") or ():
        for p in periods_of(c["rated_at"], tz):
            out[(p, d, "rated")] += 1
            if solved:
                out[(p, d, "solved")] += 1
            if satisfied:
                out[(p, d, "satisfied")] += 1
            if explicit:
                out[(p, d, "solved_answers")] += 1
    return out


def _ratio(num: int, den: int) -> dict:
    return {"numerator": num, "denominator": den, "rate": round(num / den, 4) if den > 0 else None}


def figures(period: str, dept: str, counts: Mapping[RateKey, int]) -> dict:
    g = lambda m: int(counts.get((period, dept, m), 0))  # noqa: E731
    disp, rated = g("dispatched"), g("rated")
    fig = {
        "response": _ratio(g("signed_in_time"), disp),
        "resolution": _ratio(g("solved"), rated),
        "satisfaction": _ratio(g("satisfied"), rated),
        "dispatch_accuracy": _ratio(disp - g("returned"), disp),
        "solved_answers": g("solved_answers"),
        "dispatched": disp, "rated": rated,
    }
    rates = [fig[k]["rate"] for k in ("response", "resolution", "satisfaction")]
    fig["score"] = round(sum(r or 0.0 for r in rates) / 3, 4) if (disp or rated) else None
    return fig


def ranked(items: list[dict]) -> dict[str, int]:
    """Department code -> rank by score (a missing rate counts as 0), then volume, then code; departments
    with nothing in the period are unranked."""
    order = sorted((d for d in items if d["score"] is not None),
                   key=lambda d: (-d["score"], -(d["dispatched"] + d["rated"]), d["code"]))
    return {d["code"]: i for i, d in enumerate(order, 1)}


def trend(score: float | None, previous: float | None) -> str | None:
    if score is None:
        return None
    if previous is None:
        return "new"
    return "up" if score > previous else "down" if score < previous else "same"

"""SQL of the exports: one streamed SELECT per export (cases, orders or weak signals), with filters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..orm import cases, orders, signals
from .ledger import LISTED

# export kind -> (filter -> column) of the equality filters it understands
_FILTERS = {
    "cases": (("domain", "category"), ("grade", "grade"), ("status", "status"), ("grid", "grid"),
              ("community", "community"), ("channel", "channel")),
    "orders": (("domain", "category"), ("grade", "grade"), ("status", "status"), ("grid", "grid"),
               ("community", "community"), ("department", "department")),
    "signals": (("domain", "category"), ("status", "status"), ("grid", "grid"), ("community", "community"),
                ("rule", "rule")),
}


def _scope_condition(kind: str, scope):
    """The rows the caller's purpose allows (domain/policy.Scope); None: the whole street."""
    if scope is None or scope.street:
        return None
    depts, grids = sorted(scope.departments), sorted(scope.grids)
    if kind == "cases":
        t, conds = cases, []
        if depts:  # cases their department holds or held an order on (returned orders included)
            conds.append(exists().where(orders.c.case_id == cases.c.case_id, orders.c.department.in_(depts)))
    elif kind == "orders":
        t, conds = orders, [orders.c.department.in_(depts)] if depts else []
    else:
        t, conds = signals, [signals.c.assignee.in_(depts)] if depts else []
    if grids:
        conds.append(t.c.grid.in_(grids))
    return or_(*conds) if conds else false()


def export_query(kind: str, columns: Sequence[str], f: dict[str, Any], limit: int):
    if kind == "cases":
        t, ts, conds = cases, cases.c.reported_at, [cases.c.reported]
        if f.get("department"):
            conds.append(cases.c.departments.contains([f["department"]]))
    elif kind == "orders":
        t, ts, conds = orders, orders.c.dispatched_at, []
    else:
        t, ts, conds = signals, signals.c.first_at, [LISTED]
    scoped = _scope_condition(kind, f.get("scope"))
    if scoped is not None:
        conds.append(scoped)
    for k, col in _FILTERS[kind]:
        if f.get(k):
            conds.append(t.c[col] == f[k])
    if f.get("date_from"):
        conds.append(ts >= datetime.combine(f["date_from"], datetime.min.time(), tzinfo=f["tz"]))
    if f.get("date_to"):
        conds.append(ts < datetime.combine(f["date_to"] + timedelta(days=1), datetime.min.time(), tzinfo=f["tz"]))
    return (select(*[t.c[c] for c in columns]).select_from(t).where(*conds)
            .order_by(ts.asc().nulls_last()).limit(limit))


class ExportsRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def stream(self, kind: str, columns: Sequence[str], filters: dict[str, Any], limit: int,
                     ) -> AsyncIterator[list[tuple]]:
        """The rows in parts of 1,000 (a server-side cursor: memory stays flat for large exports)."""
        result = await self.session.stream(export_query(kind, columns, filters, limit))
        async for part in result.partitions(1000):
            yield [tuple(r) for r in part]

"""Exports of cases, orders and weak signals, with filters.

Events carry no names, phones or ID numbers, and the read models keep none (not even the name of the
officer who signed for an order). The rows are those the caller's purpose allows (domain/policy.py: a
department its cases and orders, a grid worker their grids, the street roles everything); the columns
that identify a requester indirectly - the pseudonymous requester id, the subject of a requester signal -
are masked except for the dispatcher and admins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Forbidden, invalid

from ..domain.policy import scope_of
from .context import Context

if TYPE_CHECKING:
    from ..adapters.uow import AnalyticsUoW

MASK = "***"
CASE_COLUMNS = ("case_id", "case_no", "status", "channel", "category", "grade", "grid", "community",
                "reported_at", "people_involved", "departments", "resolved_at", "closed_at", "reopen_count",
                "return_count", "escalation_count", "overdue_orders", "rating", "merged_into", "requester_ref",
                "summary")
ORDER_COLUMNS = ("order_id", "case_id", "case_no", "department", "level", "role", "category", "grade", "grid",
                 "community", "status", "dispatched_at", "signed_at", "sign_within", "checked_in_at",
                 "checkin_within", "resolved_at", "resolve_within", "returned_at", "verified_at", "missed_stages",
                 "reminders", "escalations")
SIGNAL_COLUMNS = ("signal_id", "source", "rule", "status", "assignee", "grid", "community", "category",
                  "people_involved", "first_at", "became_case_id", "reasons", "subject", "summary")
COLUMNS = {"cases": CASE_COLUMNS, "orders": ORDER_COLUMNS, "signals": SIGNAL_COLUMNS}
PII_COLUMNS = {"cases": {"requester_ref"}, "orders": set(), "signals": {"subject"}}


@dataclass(frozen=True)
class ExportQuery:
    kind: str  # cases | orders | signals
    date_from: date | None = None
    date_to: date | None = None
    filters: dict[str, str | None] = field(default_factory=dict)  # domain, grade, status, grid, ...


@dataclass
class Export:
    kind: str
    columns: tuple[str, ...]
    stamp: datetime  # local time of the export
    rows: AsyncIterator[list[list[Any]]]  # parts of rows, masked; opens its own transaction when iterated


async def export(uow: AnalyticsUoW, ctx: Context, principal: Principal, q: ExportQuery, *, max_rows: int) -> Export:
    """Check the query and describe the export; its rows are read when iterated (streamed)."""
    if q.date_from and q.date_to and q.date_to < q.date_from:
        raise invalid("to", "结束日期不能早于开始日期", "'to' must not be before 'from'", code="date_range",
                      loc=["query", "to"])
    scope = scope_of(principal)
    if scope.empty:
        raise Forbidden("无权导出：没有可查看的案件", "no rows of this export are within your purpose")
    columns = COLUMNS[q.kind]
    masked = set() if scope.requester else PII_COLUMNS[q.kind]
    filters = {**q.filters, "date_from": q.date_from, "date_to": q.date_to, "tz": ctx.tz, "scope": scope}

    async def rows() -> AsyncIterator[list[list[Any]]]:
        async with uow:
            async for part in uow.exports.stream(q.kind, columns, filters, max_rows):
                yield [[MASK if (c in masked and row[i] is not None) else row[i] for i, c in enumerate(columns)]
                       for row in part]

    return Export(q.kind, columns, uow.now().astimezone(ctx.tz), rows())

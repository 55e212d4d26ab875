"""The audit log: searching and exporting it (admin, data-protection officer), and the durable rows of proxied
reads and writes of personal data."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from fengqiao_common.auth import Principal
from fengqiao_common.clock import Clock
from fengqiao_common.errors import Unavailable

from ..adapters.uow import GatewayUoW
from ..domain import audit
from ..domain.audit import Caller

EXPORT_PAGE = 1000


class Writer(Protocol):
    async def write(self, row: dict) -> bool: ...


@dataclass(frozen=True)
class AuditQuery:
    actor_id: str | None = None
    object_id: str | None = None  # the object of the request or one of its subjects (resident: case id / number)
    action: str | None = None  # prefix
    since: datetime | None = None
    until: datetime | None = None


async def list_audit(uow: GatewayUoW, *, actor_id: str | None = None, object_id: str | None = None,
                     action: str | None = None, since: datetime | None = None, until: datetime | None = None,
                     before_id: int | None = None, limit: int = 100) -> list[dict]:
    """Newest first; ``action`` matches as a prefix; ``object_id`` the object or a subject; ``before_id`` pages."""
    async with uow:
        return await uow.audit.list(actor_id=actor_id, object_id=object_id, action=action, since=since,
                                    until=until, before_id=before_id, limit=limit)


async def record_search(writer: Writer, clock: Clock, principal: Principal, caller: Caller, *, action: str,
                        path: str, q: AuditQuery) -> None:
    """Who searched or exported the audit log (its rows are personal data too); refused if it cannot be kept."""
    row = audit.audit_row(principal, caller, at=clock.now(), action=action, method="GET", path=path,
                          object_id=q.object_id, status=200, purpose="oversight",
                          detail={k: str(v) for k, v in vars(q).items() if v is not None})
    if not await writer.write(row):
        raise Unavailable("审计日志暂不可写，请稍后重试", "the audit log cannot be written now, retry later")


async def export_csv(uow_factory: Callable[[], GatewayUoW], q: AuditQuery, *,
                     max_rows: int = 100_000) -> AsyncIterator[str]:
    """The matching rows as CSV (UTF-8 BOM, newest first), page by page; no cell can be read as a formula."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(audit.CSV_COLUMNS)
    yield "\ufeff" + buf.getvalue()
    before, sent = None, 0
    while sent < max_rows:
        rows = await list_audit(uow_factory(), actor_id=q.actor_id, object_id=q.object_id, action=q.action,
                                since=q.since, until=q.until, before_id=before, limit=min(EXPORT_PAGE, max_rows - sent))
        if not rows:
            return
        buf.seek(0)
        buf.truncate()
        for r in rows:
            w.writerow([audit.csv_cell(r.get(c)) for c in audit.CSV_COLUMNS])
        yield buf.getvalue()
        sent += len(rows)
        before = rows[-1]["id"]


async def record_forwarded(writer: Writer, clock: Clock, principal: Principal | None, caller: Caller, *,
                           method: str, path: str, service: str, status: int, created_id: str | None = None,
                           fields: str | None = None, purpose: str | None = None,
                           subjects: str | None = None) -> bool:
    """Write the audit row of a read or write forwarded to ``service`` (durable before the answer is released).
    ``fields``/``purpose``/``subjects`` are what the service declared in its answer's headers.
    False when the row could not be made durable in time (the caller refuses to serve personal data)."""
    target = audit.describe(method, path)
    row = audit.audit_row(principal, caller, at=clock.now(), action=target.action, method=method, path=path,
                          object_type=target.object_type, object_id=target.object_id or created_id,
                          status=status, detail={"service": service}, fields=audit.field_list(fields),
                          purpose=purpose, subjects=audit.subject_list(subjects))
    return await writer.write(row)

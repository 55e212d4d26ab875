"""Open311 GeoReport v2 reads: only requests that came through Open311 (``service_request_id`` = case no)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..adapters.uow import IntakeUoW


@dataclass
class RequestQuery:
    ids: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    statuses: list[str] = field(default_factory=list)
    limit: int = 1000


@dataclass
class Open311Request:
    case: dict
    context: dict  # department, resolve_by (latest order), note (latest status note)


async def find_requests(uow: IntakeUoW, q: RequestQuery) -> list[Open311Request]:
    async with uow:
        if q.ids:
            rows = await uow.cases.open311(ids=q.ids, limit=q.limit)
        else:
            rows = await uow.cases.open311(codes=q.codes, start=q.start, end=q.end, statuses=q.statuses,
                                           limit=q.limit)
        ctx = await uow.timeline.open311_context([r["id"] for r in rows])
    return [Open311Request(r, ctx.get(r["id"], {})) for r in rows]


async def status_updates(uow: IntakeUoW, start: datetime, end: datetime, *, limit: int) -> list[dict]:
    async with uow:
        return await uow.timeline.open311_updates(start, end, limit)

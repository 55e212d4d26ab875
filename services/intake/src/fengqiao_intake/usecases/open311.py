"""Open311 GeoReport v2 reads: only requests that came through Open311 (``service_request_id`` = case no).

The same rules as every read of a case: a caller sees in full (description, address, exact
location, notes) only the requests its scope covers; everything else is the public view (service
name, a location coarsened to ~100 m, status labels, no free text, no address, no photo) while the
public feed is on (``INTAKE_OPEN311_PUBLIC_FEED``), and absent when it is off. Anonymous callers get
only the public view, and nothing at all when the feed is off (the router answers 403). Open311 never
carries the parties' names, phones or ID numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal

from ..domain.visibility import NO_LINKS, case_scope, case_visible

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
    context: dict  # department, resolve_by (latest order), note + note_kind (latest status note)
    full: bool = False  # False: the public (coarsened) view only


async def _in_scope(uow: IntakeUoW, principal: Principal | None, rows: list[dict], key: str = "id") -> set[str]:
    if principal is None or not rows:
        return set()
    scope = case_scope(principal)
    if scope.everything:
        return {r[key] for r in rows}
    links = await uow.cases.links([r[key] for r in rows])
    return {r[key] for r in rows if case_visible(scope, {"grid": r.get("grid"), "reporter": r.get("reporter")},
                                                 links.get(r[key], NO_LINKS))}


async def find_requests(uow: IntakeUoW, q: RequestQuery, *, principal: Principal | None = None,
                        public_feed: bool = True) -> list[Open311Request]:
    async with uow:
        if q.ids:
            rows = await uow.cases.open311(ids=q.ids, limit=q.limit)
        else:
            rows = await uow.cases.open311(codes=q.codes, start=q.start, end=q.end, statuses=q.statuses,
                                           limit=q.limit)
        full = await _in_scope(uow, principal, rows)
        if not public_feed:
            rows = [r for r in rows if r["id"] in full]
        ctx = await uow.timeline.open311_context([r["id"] for r in rows])
    return [Open311Request(r, ctx.get(r["id"], {}), r["id"] in full) for r in rows]


async def status_updates(uow: IntakeUoW, start: datetime, end: datetime, *, limit: int,
                         principal: Principal | None = None, public_feed: bool = True) -> list[dict]:
    """Rows with ``full``: False = the status label only (no free-text note)."""
    async with uow:
        rows = await uow.timeline.open311_updates(start, end, limit)
        full = await _in_scope(uow, principal, rows, key="case_id")
    return [{**r, "full": r["case_id"] in full} for r in rows if public_feed or r["case_id"] in full]

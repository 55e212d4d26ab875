"""Reading cases: the visible list (and CSV), one case with timeline, attachments and requesters;
the audit of personal-data views. Every read returns the parties as the reader may see them
(``domain/access.py``) and writes, in the same transaction, one ``pii_access_log`` row per case
shown with a personal field in full."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Forbidden

from ..domain import access
from ..domain.access import AccessContext
from ..domain.visibility import NO_LINKS, case_scope
from .common import visible_case

if TYPE_CHECKING:
    from ..adapters.uow import IntakeUoW


@dataclass
class CaseQuery:
    status: str | None = None
    category: str | None = None
    grid: str | None = None
    channel: str | None = None
    limit: int = 50
    offset: int = 0


@dataclass
class CasePage:
    items: list[dict]  # parties shaped for the reader
    total: int
    limit: int
    offset: int
    disclosure: access.Disclosure = access.NOTHING_DISCLOSED


@dataclass
class CaseDetail:
    case: dict  # parties shaped for the reader
    timeline: list[dict]
    attachments: list[dict]
    requesters: int
    duplicate_of_case_no: str | None
    merged_into_case_no: str | None
    disclosure: access.Disclosure = access.NOTHING_DISCLOSED


@dataclass
class Reveal:
    """``?reveal=id_number&purpose=...`` on one case's detail."""

    reveal: str | None = None
    purpose: str | None = None


async def _shaped(uow: IntakeUoW, principal: Principal, rows: list[dict], *, action: str, ctx: AccessContext,
                  reveal: str | None = None) -> tuple[list[dict], access.Disclosure]:
    links = await uow.cases.links([r["id"] for r in rows]) if access.needs_links(principal) else {}
    at = uow.now()
    shown, views, audit = [], [], []
    for r in rows:
        item, view, row = access.case_read(principal, r, links.get(r["id"], NO_LINKS), action=action, ctx=ctx,
                                           at=at, reveal=reveal)
        shown.append(item)
        views.append((r, view))
        if row is not None:
            audit.append(row)
    if audit:
        await uow.access_log.add(audit)
    return shown, access.disclosure(views)


async def list_cases(uow: IntakeUoW, principal: Principal, q: CaseQuery, *, ctx: AccessContext = AccessContext(),
                     action: str = "list") -> CasePage:
    async with uow:
        rows, total = await uow.cases.list(
            case_scope(principal), filters={"status": q.status, "category": q.category, "grid": q.grid,
                                            "channel": q.channel},
            limit=q.limit, offset=q.offset)
        items, told = await _shaped(uow, principal, rows, action=action, ctx=ctx)
        await uow.commit()
    return CasePage(items, total, q.limit, q.offset, told)


async def export_cases(uow: IntakeUoW, principal: Principal, q: CaseQuery, *,
                       ctx: AccessContext = AccessContext()) -> CasePage:
    """The visible cases for ``export.csv``: the same scope and fields as the list, audited as an export."""
    return await list_cases(uow, principal, q, ctx=ctx, action="export")


async def get_case(uow: IntakeUoW, principal: Principal, ref: str, *, reveal: Reveal = Reveal(),
                   ctx: AccessContext = AccessContext()) -> CaseDetail:
    purpose = access.reveal_purpose(principal, reveal.reveal, reveal.purpose)
    async with uow:
        case = await visible_case(uow, principal, ref)
        nos = await uow.cases.case_nos([case["duplicate_of"], case["merged_into"]])
        (shown,), told = await _shaped(uow, principal, [case], action="detail", ctx=ctx, reveal=purpose)
        detail = CaseDetail(
            case=shown, timeline=await uow.timeline.of_case(case["id"]),
            attachments=await uow.attachments.of_case(case["id"]),
            requesters=await uow.cases.requester_count(case["id"]),
            duplicate_of_case_no=nos.get(case["duplicate_of"]), merged_into_case_no=nos.get(case["merged_into"]),
            disclosure=told,
        )
        await uow.commit()
    return detail


@dataclass
class AccessLogQuery:
    case: str | None = None  # case id or number
    actor: str | None = None
    resident: str | None = None  # a party's phone or ID number: the reads of every case they are in
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


async def access_log(uow: IntakeUoW, principal: Principal, q: AccessLogQuery) -> tuple[list[dict], int]:
    """Who read which resident's data, for admin and the data-protection officer."""
    if not principal.has(*access.AUDIT_READERS):
        raise Forbidden("只有管理员和个人信息保护负责人可查阅访问记录",
                        "only admin and the data-protection officer read the access log")
    async with uow:
        case_ids = None
        if q.case:
            case = await uow.cases.get(q.case)
            case_ids = [case["id"]] if case is not None else []
        if q.resident:
            theirs = await uow.cases.ids_of_party(q.resident)
            case_ids = theirs if case_ids is None else [i for i in case_ids if i in theirs]
        if case_ids == []:
            return [], 0
        return await uow.access_log.search(case_ids=case_ids, actor_id=q.actor, since=q.since, until=q.until,
                                           limit=q.limit, offset=q.offset)

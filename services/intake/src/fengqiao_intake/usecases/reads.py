"""Reading cases: the visible list (and CSV), one case with timeline, attachments and requesters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal

from ..domain.visibility import case_scope
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
    items: list[dict]
    total: int
    limit: int
    offset: int


@dataclass
class CaseDetail:
    case: dict
    timeline: list[dict]
    attachments: list[dict]
    requesters: int
    duplicate_of_case_no: str | None
    merged_into_case_no: str | None


async def list_cases(uow: IntakeUoW, principal: Principal, q: CaseQuery) -> CasePage:
    async with uow:
        rows, total = await uow.cases.list(
            case_scope(principal), filters={"status": q.status, "category": q.category, "grid": q.grid,
                                            "channel": q.channel},
            limit=q.limit, offset=q.offset)
    return CasePage(rows, total, q.limit, q.offset)


async def get_case(uow: IntakeUoW, principal: Principal, ref: str) -> CaseDetail:
    async with uow:
        case = await visible_case(uow, principal, ref)
        nos = await uow.cases.case_nos([case["duplicate_of"], case["merged_into"]])
        return CaseDetail(
            case=case, timeline=await uow.timeline.of_case(case["id"]),
            attachments=await uow.attachments.of_case(case["id"]),
            requesters=await uow.cases.requester_count(case["id"]),
            duplicate_of_case_no=nos.get(case["duplicate_of"]), merged_into_case_no=nos.get(case["merged_into"]),
        )

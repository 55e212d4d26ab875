"""A case's related cases: other cases of the same requester, by the phone or ID-number pseudonym."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal

from .common import visible_case

if TYPE_CHECKING:
    from ..adapters.uow import IntakeUoW


async def related_cases(uow: IntakeUoW, principal: Principal, ref: str, *, limit: int = 50) -> dict:
    async with uow:
        case = await visible_case(uow, principal, ref)
        rows = await uow.cases.related(case["id"], limit)
    return {"case_no": case["case_no"], "case_id": case["id"],
            "items": [{k: r[k] for k in ("case_no", "reported_at", "status", "channel")} for r in rows]}

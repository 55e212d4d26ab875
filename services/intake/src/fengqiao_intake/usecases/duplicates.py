"""Proposed duplicates (a new case near an open one of the same category, within the time window:
``cases.duplicate_of``) reviewed by the dispatcher: the list scored by text similarity, confirm (merge
into the candidate, as ``case_admin.merge``; the duplicate's requester is told by SMS that the cases are
handled together) or reject (``duplicate_of`` cleared). The decision, its SMS and the merge commit in
one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Conflict, NotFound

from ..domain import duplicates as rules
from .case_admin import Merge, merge
from .common import actor_json
from .notifications import SmsPolicy, queue_sms

if TYPE_CHECKING:
    from ..adapters.uow import IntakeUoW

_SHOWN = ("id", "case_no", "category", "summary", "reported_at", "status", "grid", "candidate_id", "candidate_no",
          "candidate_summary", "candidate_status", "candidate_reported_at")


@dataclass
class Decision:
    case_id: str
    reason: str | None = None


def _scored(row: dict, threshold: float) -> dict:
    sim = rules.similarity(row["description"], row["candidate_description"])
    return {k: row[k] for k in _SHOWN} | {"similarity": round(sim, 3), "likely": sim >= threshold}


async def list_candidates(uow: IntakeUoW, principal: Principal, *, threshold: float, limit: int,
                          offset: int) -> tuple[list[dict], int]:
    """Pending proposals, most similar first within the page (likely ones flagged)."""
    async with uow:
        rows, total = await uow.duplicates.pending(limit=limit, offset=offset)
    items = sorted((_scored(r, threshold) for r in rows), key=lambda r: -r["similarity"])
    return items, total


async def _pending(uow: IntakeUoW, case_id: str) -> dict:
    rows, _ = await uow.duplicates.pending(limit=1, offset=0, case_id=case_id)
    if not rows:
        raise NotFound("duplicate", "待审核的重复案件")
    return rows[0]


async def confirm(uow: IntakeUoW, principal: Principal, cmd: Decision, *, sms: SmsPolicy | None,
                  threshold: float) -> dict:
    async with uow:
        row = await _pending(uow, cmd.case_id)
        scored = _scored(row, threshold)
        if not await uow.duplicates.decide({"case_id": row["id"], "candidate_id": row["candidate_id"],
                                            "decision": "confirmed", "similarity": scored["similarity"],
                                            "reason": cmd.reason, "by": actor_json(principal), "at": uow.now()}):
            raise Conflict("已审核", "already reviewed", code="already_reviewed")
        await queue_sms(uow, sms, row, "duplicate", {"case_no": row["case_no"], "primary_no": row["candidate_no"]},
                        key=f"duplicate:{row['id']}")
        # merge commits the whole transaction: the decision and the message with the merge, or nothing
        await merge(uow, principal, Merge(ref=row["id"], into=row["candidate_id"],
                                          reason=cmd.reason or "重复件确认 / confirmed duplicate"))
    return scored | {"decision": "confirmed"}


async def reject(uow: IntakeUoW, principal: Principal, cmd: Decision, *, threshold: float) -> dict:
    async with uow:
        row = await _pending(uow, cmd.case_id)
        scored = _scored(row, threshold)
        at, who = uow.now(), actor_json(principal)
        if not await uow.duplicates.decide({"case_id": row["id"], "candidate_id": row["candidate_id"],
                                            "decision": "rejected", "similarity": scored["similarity"],
                                            "reason": cmd.reason, "by": who, "at": at}):
            raise Conflict("已审核", "already reviewed", code="already_reviewed")
        await uow.cases.update(row["id"], duplicate_of=None, updated_at=at)
        await uow.timeline.add(row["id"], at=at, kind="duplicate.rejected", effect=None, actor=who,
                               note=f"非重复件（与 {row['candidate_no']}）" + (f"：{cmd.reason}" if cmd.reason else ""),
                               detail={"candidate_id": row["candidate_id"], "candidate_no": row["candidate_no"],
                                       "reason": cmd.reason})
        await uow.commit()
    return scored | {"decision": "rejected"}

"""/api/v1/duplicates: the dispatcher's review of proposed duplicates (confirm = merge, reject)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from fengqiao_common.auth import DISPATCHER, CurrentPrincipal, require_roles
from pydantic import BaseModel, ConfigDict, Field

from ..usecases import duplicates as uc
from . import DepsDep

router = APIRouter(prefix="/api/v1/duplicates", tags=["duplicates"], dependencies=[require_roles(DISPATCHER)])


class DuplicateCandidate(BaseModel):
    id: str = Field(description="the proposed duplicate (the newer case)")
    case_no: str
    category: str
    summary: str
    reported_at: datetime
    status: str
    grid: str | None = None
    candidate_id: str = Field(description="the open case it may duplicate (the primary)")
    candidate_no: str
    candidate_summary: str
    candidate_status: str
    candidate_reported_at: datetime
    similarity: float = Field(description="Jaccard similarity of the descriptions' character bigrams (0..1)")
    likely: bool


class DuplicateList(BaseModel):
    items: list[DuplicateCandidate]
    total: int


class DuplicateDecided(DuplicateCandidate):
    decision: str


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=500)


@router.get("", operation_id="list_duplicates", response_model=DuplicateList,
            summary="Proposed duplicates (same category, place and time window) awaiting review, scored by text")
async def list_duplicates(d: DepsDep, principal: CurrentPrincipal, limit: int = Query(50, ge=1, le=500),
                          offset: int = Query(0, ge=0)):
    items, total = await uc.list_candidates(d.uow(), principal, threshold=d.settings.duplicate_min_similarity,
                                            limit=limit, offset=offset)
    return {"items": items, "total": total}


@router.post("/{case_id}/confirm", operation_id="confirm_duplicate", response_model=DuplicateDecided,
             summary="Confirm: merge the duplicate into its primary; its requester is told by SMS")
async def confirm_duplicate(case_id: str, d: DepsDep, principal: CurrentPrincipal, body: DecisionIn | None = None):
    return await uc.confirm(d.uow(), principal, uc.Decision(case_id, body.reason if body else None), sms=d.ctx.sms,
                            threshold=d.settings.duplicate_min_similarity)


@router.post("/{case_id}/reject", operation_id="reject_duplicate", response_model=DuplicateDecided,
             summary="Reject: not a duplicate (the proposal is cleared)")
async def reject_duplicate(case_id: str, d: DepsDep, principal: CurrentPrincipal, body: DecisionIn | None = None):
    return await uc.reject(d.uow(), principal, uc.Decision(case_id, body.reason if body else None),
                           threshold=d.settings.duplicate_min_similarity)

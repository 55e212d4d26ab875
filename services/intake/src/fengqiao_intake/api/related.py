"""/api/v1/cases/{ref}/related: the same requester's other cases (case numbers only), for the centre."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Response
from fengqiao_common.auth import DISPATCHER, LEADER, CurrentPrincipal, require_roles
from pydantic import BaseModel

from ..usecases import related as uc
from . import DepsDep

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


class RelatedCase(BaseModel):
    case_no: str
    reported_at: datetime
    status: str
    channel: str


class RelatedCases(BaseModel):
    case_no: str
    items: list[RelatedCase]


@router.get("/{ref}/related", operation_id="related_cases", response_model=RelatedCases,
            dependencies=[require_roles(DISPATCHER, LEADER)],
            summary="Other cases of the same requester (linked by the phone or ID-number pseudonym; case numbers "
                    "only, no personal data)")
async def related_cases(ref: str, response: Response, d: DepsDep, principal: CurrentPrincipal,
                        limit: int = Query(50, ge=1, le=200)):
    out = await uc.related_cases(d.uow(), principal, ref, limit=limit)
    # the links between cases are about a person: the gateway's audit records who looked at them
    response.headers["X-Fengqiao-Audit-Fields"] = "requester_link"
    response.headers["X-Fengqiao-Audit-Purpose"] = "handling"
    response.headers["X-Fengqiao-Audit-Subjects"] = ",".join([out["case_no"], *(i["case_no"] for i in out["items"])][:200])
    return out

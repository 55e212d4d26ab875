"""/api/v1/follow-ups: the centre's follow-up (回访) call list, and the leader's queue."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from fengqiao_common.auth import DISPATCHER, LEADER, CurrentPrincipal, require_roles

from ..usecases import followups as uc
from . import DepsDep
from .public_schemas import FollowUpList, FollowUpOut, FollowUpOutcomeIn

router = APIRouter(prefix="/api/v1/follow-ups", tags=["follow-ups"])


@router.get("", operation_id="list_follow_ups", response_model=FollowUpList,
            dependencies=[require_roles(DISPATCHER, LEADER)],
            summary="Follow-up tasks: open ones by deadline (the call list); queue=leader: unsatisfied after "
                    "the allowed reopenings")
async def list_follow_ups(d: DepsDep, principal: CurrentPrincipal,
                          status: Literal["open", "done"] | None = None,
                          queue: Literal["all", "leader"] = "all",
                          limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)):
    items, total = await uc.list_tasks(d.uow(), principal, status=status,
                                       to_leader=True if queue == "leader" else None, limit=limit, offset=offset)
    return {"items": items, "total": total}


@router.post("/{task_id}/outcome", operation_id="record_follow_up", response_model=FollowUpOut,
             dependencies=[require_roles(DISPATCHER)],
             summary="Record the requester's answer (call / SMS reply): satisfaction and whether it was solved")
async def record_follow_up(task_id: str, body: FollowUpOutcomeIn, d: DepsDep, principal: CurrentPrincipal):
    answer = uc.Answer(rating=body.rating, solved=body.solved, channel=body.channel, comment=body.comment)
    return await uc.record_outcome(d.uow(), principal, task_id, answer, policy=d.follow_up)

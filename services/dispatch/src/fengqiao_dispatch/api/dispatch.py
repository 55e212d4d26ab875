"""/api/v1/dispatch: the centre's manual-dispatch queue, case view, referrals, overdue list, escalations,
and the routing rules (admins edit; every save is a new version)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fengqiao_common.auth import (
    ADMIN,
    DEPARTMENT_OFFICER,
    DEPARTMENT_SYSTEM,
    DISPATCHER,
    LEADER,
    Principal,
    require_roles,
)
from pydantic import BaseModel, ConfigDict, Field

from .. import service
from ..domain.rules import RuleBody
from . import schemas

router = APIRouter(prefix="/api/v1/dispatch", tags=["dispatch"])
Centre = Annotated[Principal, require_roles(DISPATCHER)]
Watcher = Annotated[Principal, require_roles(DISPATCHER, LEADER)]
Anyone = Annotated[Principal, require_roles(DISPATCHER, LEADER, DEPARTMENT_OFFICER, DEPARTMENT_SYSTEM)]
Admin = Annotated[Principal, require_roles(ADMIN)]
Limit = Annotated[int, Query(ge=1, le=500)]
CaseId = Annotated[str, Path(pattern=schemas.ID_PATTERN)]
RuleId = Annotated[str, Path(pattern=schemas.ID_PATTERN)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def rt(request: Request):
    return request.app.state.runtime


class NewRule(RuleBody):
    model_config = ConfigDict(extra="forbid")
    rule_id: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$",
                                description="stable id; generated when omitted")


class RuleUpdate(RuleBody):
    model_config = ConfigDict(extra="forbid")
    base_version: int | None = Field(None, ge=1, le=1_000_000, description="the version edited; 409 when it is no longer current")


@router.get("/queue", operation_id="dispatch_queue", summary="Cases waiting for manual dispatch")
async def queue(request: Request, _p: Centre, limit: Limit = 100, offset: Offset = 0):
    return await service.queue(rt(request), limit, offset)


@router.post("/cases/{case_id}/orders", status_code=201, operation_id="manual_dispatch",
             summary="Dispatch a queued case by hand (also re-routes a returned order)")
async def manual_dispatch(request: Request, case_id: CaseId, principal: Centre, body: schemas.ManualDispatch):
    return await service.manual_dispatch(rt(request), case_id, lead=body.lead, assist=body.assist,
                                         on_site_required=body.on_site_required, principal=principal)


@router.get("/cases/{case_id}", operation_id="dispatch_case_view",
            summary="A case's orders, timeline, timers and escalations")
async def case_view(request: Request, case_id: CaseId, _p: Watcher):
    return await service.case_view(rt(request), case_id)


@router.post("/cases/{case_id}/mediation", status_code=201, operation_id="refer_to_mediation",
             summary="Transfer a case to mediation (mediation.referred)")
async def refer(request: Request, case_id: CaseId, principal: Centre, body: schemas.Referral | None = None):
    body = body or schemas.Referral()
    return await service.refer_to_mediation(rt(request), case_id, principal, body.category, body.note)


@router.get("/overdue", operation_id="overdue_orders", summary="Open orders past a time limit")
async def overdue(request: Request, principal: Anyone, limit: Limit = 100, offset: Offset = 0):
    return await service.overdue(rt(request), principal, limit, offset)


@router.get("/escalations", operation_id="escalations", summary="Escalations (督办), newest first")
async def escalations(request: Request, _p: Watcher, limit: Limit = 100, offset: Offset = 0):
    return await service.escalations(rt(request), limit, offset)


@router.get("/rules", operation_id="list_rules", summary="Current routing rules")
async def list_rules(request: Request, _p: Watcher, include_deleted: bool = False):
    return await service.list_rules(rt(request), include_deleted)


@router.post("/rules", status_code=201, operation_id="create_rule", summary="Create a routing rule")
async def create_rule(request: Request, principal: Admin, body: NewRule):
    return await service.create_rule(rt(request), body.rule_id, RuleBody(**body.model_dump(exclude={"rule_id"})),
                                     principal)


@router.get("/rules/{rule_id}", operation_id="get_rule", summary="A rule (current, or ?version=N)")
async def get_rule(request: Request, rule_id: RuleId, _p: Watcher, version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None):
    return await service.get_rule(rt(request), rule_id, version)


@router.get("/rules/{rule_id}/versions", operation_id="rule_versions", summary="Every version of a rule")
async def versions(request: Request, rule_id: RuleId, _p: Watcher):
    return await service.rule_versions(rt(request), rule_id)


@router.put("/rules/{rule_id}", operation_id="update_rule", summary="Save a new version of a rule")
async def update_rule(request: Request, rule_id: RuleId, principal: Admin, body: RuleUpdate):
    return await service.save_rule_version(rt(request), rule_id, RuleBody(**body.model_dump(exclude={"base_version"})),
                                           principal, base_version=body.base_version)


@router.delete("/rules/{rule_id}", operation_id="delete_rule", summary="Retire a rule (a new, deleted version)")
async def delete_rule(request: Request, rule_id: RuleId, principal: Admin):
    return await service.save_rule_version(rt(request), rule_id, None, principal, delete=True)


__all__ = ["BaseModel", "router"]

"""/api/v1/dispatch: the centre's manual-dispatch queue, case view, referrals, overdue list, escalations,
and the routing rules (admins edit; every save is a new version)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fengqiao_common.auth import (
    ADMIN,
    DEPARTMENT_OFFICER,
    DEPARTMENT_SYSTEM,
    DISPATCHER,
    LEADER,
    Principal,
    require_roles,
)
from pydantic import ConfigDict, Field

from ..deps import DepsDep
from ..domain.rules import RuleBody
from ..usecases import cases, reads, routing, rules
from ..usecases import commands as c
from . import schemas
from .views import CaseView, Escalation, OrderOut, QueuedCase, ReferralOut, RuleOut

router = APIRouter(prefix="/api/v1/dispatch", tags=["dispatch"])
Centre = Annotated[Principal, require_roles(DISPATCHER)]
Watcher = Annotated[Principal, require_roles(DISPATCHER, LEADER)]
Anyone = Annotated[Principal, require_roles(DISPATCHER, LEADER, DEPARTMENT_OFFICER, DEPARTMENT_SYSTEM)]
Admin = Annotated[Principal, require_roles(ADMIN)]
Limit = Annotated[int, Query(ge=1, le=500)]
CaseId = Annotated[str, Path(pattern=schemas.ID_PATTERN)]
RuleId = Annotated[str, Path(pattern=schemas.ID_PATTERN)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


class NewRule(RuleBody):
    model_config = ConfigDict(extra="forbid")
    rule_id: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$",
                                description="stable id; generated when omitted")


class RuleUpdate(RuleBody):
    model_config = ConfigDict(extra="forbid")
    base_version: int | None = Field(None, ge=1, le=1_000_000, description="the version edited; 409 when it is no longer current")


@router.get("/queue", operation_id="dispatch_queue", summary="Cases waiting for manual dispatch")
async def queue(deps: DepsDep, principal: Centre, limit: Limit = 100, offset: Offset = 0) -> list[QueuedCase]:
    return await reads.queue(deps.uow(), principal, c.Page(limit, offset))


@router.post("/cases/{case_id}/orders", status_code=201, operation_id="manual_dispatch",
             summary="Dispatch a queued case by hand (also re-routes a returned order)",
             response_model_exclude_unset=True)  # the new orders as created: no sign-for/result fields yet
async def manual_dispatch(deps: DepsDep, case_id: CaseId, principal: Centre,
                          body: schemas.ManualDispatch) -> list[OrderOut]:
    cmd = c.ManualDispatch(case_id, lead=body.lead, assist=body.assist, on_site_required=body.on_site_required)
    return await routing.manual_dispatch(deps.uow(), principal, cmd, jurisdiction=deps.jurisdiction)


@router.get("/cases/{case_id}", operation_id="dispatch_case_view",
            summary="A case's orders, timeline, timers and escalations")
async def case_view(deps: DepsDep, case_id: CaseId, principal: Watcher) -> CaseView:
    return await reads.case_view(deps.uow(), principal, case_id)


@router.post("/cases/{case_id}/mediation", status_code=201, operation_id="refer_to_mediation",
             summary="Transfer a case to mediation (mediation.referred)")
async def refer(deps: DepsDep, case_id: CaseId, principal: Centre, body: schemas.Referral | None = None) -> ReferralOut:
    body = body or schemas.Referral()
    return await cases.refer_to_mediation(deps.uow(), principal, c.ReferToMediation(case_id, body.category, body.note),
                                          jurisdiction=deps.jurisdiction)


@router.get("/overdue", operation_id="overdue_orders", summary="Open orders past a time limit")
async def overdue(deps: DepsDep, principal: Anyone, limit: Limit = 100, offset: Offset = 0) -> list[OrderOut]:
    return await reads.overdue(deps.uow(), principal, c.Page(limit, offset))


@router.get("/escalations", operation_id="escalations", summary="Escalations (督办), newest first")
async def escalations(deps: DepsDep, principal: Watcher, limit: Limit = 100, offset: Offset = 0) -> list[Escalation]:
    return await reads.escalations(deps.uow(), principal, c.Page(limit, offset))


@router.get("/rules", operation_id="list_rules", summary="Current routing rules")
async def list_rules(deps: DepsDep, principal: Watcher, include_deleted: bool = False) -> list[RuleOut]:
    return await rules.list_rules(deps.uow(), principal, include_deleted=include_deleted)


@router.post("/rules", status_code=201, operation_id="create_rule", summary="Create a routing rule")
async def create_rule(deps: DepsDep, principal: Admin, body: NewRule) -> RuleOut:
    cmd = c.CreateRule(RuleBody(**body.model_dump(exclude={"rule_id"})), rule_id=body.rule_id)
    return await rules.create_rule(deps.uow(), principal, cmd, jurisdiction=deps.jurisdiction)


@router.get("/rules/{rule_id}", operation_id="get_rule", summary="A rule (current, or ?version=N)")
async def get_rule(deps: DepsDep, rule_id: RuleId, principal: Watcher,
                   version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None) -> RuleOut:
    return await rules.get_rule(deps.uow(), principal, rule_id, version)


@router.get("/rules/{rule_id}/versions", operation_id="rule_versions", summary="Every version of a rule")
async def versions(deps: DepsDep, rule_id: RuleId, principal: Watcher) -> list[RuleOut]:
    return await rules.rule_versions(deps.uow(), principal, rule_id)


@router.put("/rules/{rule_id}", operation_id="update_rule", summary="Save a new version of a rule")
async def update_rule(deps: DepsDep, rule_id: RuleId, principal: Admin, body: RuleUpdate) -> RuleOut:
    cmd = c.SaveRule(rule_id, RuleBody(**body.model_dump(exclude={"base_version"})), base_version=body.base_version)
    return await rules.save_rule_version(deps.uow(), principal, cmd, jurisdiction=deps.jurisdiction)


@router.delete("/rules/{rule_id}", operation_id="delete_rule", summary="Retire a rule (a new, deleted version)")
async def delete_rule(deps: DepsDep, rule_id: RuleId, principal: Admin) -> RuleOut:
    return await rules.save_rule_version(deps.uow(), principal, c.SaveRule(rule_id, delete=True),
                                         jurisdiction=deps.jurisdiction)

"""The mediator pool (调解人才库): admins manage it; a mediator keeps its own availability and leave."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fengqiao_common.auth import (
    ADMIN,
    DISPATCHER,
    EXTERNAL_SYSTEM,
    LEADER,
    MEDIATOR,
    CurrentPrincipal,
    Principal,
    require_roles,
)
from fengqiao_common.db import Session
from fengqiao_common.errors import ApiError, field_error

from .. import service
from .common import PREFIX, Code, Ident, MediationDeps
from .schemas import AvailabilityIn, LeaveIn, MediatorIn, MediatorPatch, check_time

router = APIRouter(prefix=f"{PREFIX}/mediators", tags=["mediators"])
READERS = require_roles(DISPATCHER, MEDIATOR, EXTERNAL_SYSTEM, LEADER)
Reader = Annotated[Principal, READERS]


@router.get("", operation_id="mediation_list_mediators")
async def list_mediators(session: Session, principal: Reader, category: Code = None, dialect: Code = None,
                         kind: Code = None, active: bool | None = None):
    return await service.list_mediators(session, principal, category=category, dialect=dialect, kind=kind,
                                        active=active)


@router.post("", status_code=201, operation_id="mediation_create_mediator", dependencies=[require_roles(ADMIN)])
async def create_mediator(body: MediatorIn, session: Session, deps: MediationDeps):
    return await service.create_mediator(session, deps, body)


@router.get("/{mediator_id}", operation_id="mediation_get_mediator")
async def get_mediator(mediator_id: Ident, session: Session, principal: Reader):
    return await service.get_mediator(session, mediator_id, principal)


@router.patch("/{mediator_id}", operation_id="mediation_patch_mediator", dependencies=[require_roles(ADMIN)])
async def patch_mediator(mediator_id: Ident, body: MediatorPatch, session: Session, deps: MediationDeps):
    return await service.patch_mediator(session, deps, mediator_id, body)


@router.put("/{mediator_id}/availability", operation_id="mediation_set_availability")
async def set_availability(mediator_id: Ident, body: AvailabilityIn, session: Session, principal: CurrentPrincipal):
    return await service.set_availability(session, principal, mediator_id, [w.model_dump() for w in body.weekly])


@router.post("/{mediator_id}/leaves", status_code=201, operation_id="mediation_add_leave")
async def add_leave(mediator_id: Ident, body: LeaveIn, session: Session, principal: CurrentPrincipal):
    return await service.add_leave(session, principal, mediator_id, body)


def _check_times(**values: datetime) -> None:
    fields = []
    for name, value in values.items():
        try:
            check_time(value)
        except ValueError as exc:
            zh, en = str(exc).split(" / ", 1)
            fields.append(field_error(name, "value_error", zh, en, loc=["query", name]))
    if fields:
        raise ApiError(422, "validation_failed", "请求参数有误", "request validation failed", fields=fields)


@router.get("/{mediator_id}/slots", operation_id="mediation_mediator_slots", dependencies=[READERS])
async def slots(mediator_id: Ident, session: Session, deps: MediationDeps,
                from_: Annotated[datetime, Query(alias="from")], to: datetime):
    _check_times(**{"from": from_, "to": to})
    return await service.mediator_slots(session, deps, mediator_id, from_, to)


@router.get("/{mediator_id}/bookings", operation_id="mediation_mediator_bookings")
async def bookings(mediator_id: Ident, session: Session, deps: MediationDeps, principal: CurrentPrincipal,
                   from_: Annotated[datetime, Query(alias="from")], to: datetime):
    """The mediator's calendar: active bookings in the window (centre staff and the mediator)."""
    _check_times(**{"from": from_, "to": to})
    return await service.mediator_bookings(session, deps, principal, mediator_id, from_, to)

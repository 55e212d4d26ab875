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
from fengqiao_common.errors import ApiError, field_error

from ..usecases import availability, mediators
from .common import PREFIX, Code, Ident, MediationDeps
from .schemas import (
    AvailabilityIn,
    BookingOut,
    LeaveCreated,
    LeaveIn,
    MediatorIn,
    MediatorOut,
    MediatorPatch,
    SlotOut,
    check_time,
)

router = APIRouter(prefix=f"{PREFIX}/mediators", tags=["mediators"])
READERS = require_roles(DISPATCHER, MEDIATOR, EXTERNAL_SYSTEM, LEADER)
Reader = Annotated[Principal, READERS]
ADMINS = [require_roles(ADMIN)]
# relations and leaves are present only where the reader may see them / on the single mediator
SHAPE = {"response_model_exclude_unset": True}


@router.get("", operation_id="mediation_list_mediators", response_model=list[MediatorOut], **SHAPE)
async def list_mediators(deps: MediationDeps, principal: Reader, category: Code = None, dialect: Code = None,
                         kind: Code = None, active: bool | None = None):
    return await mediators.list_mediators(deps.uow(), principal, category=category, dialect=dialect, kind=kind,
                                          active=active)


@router.post("", status_code=201, operation_id="mediation_create_mediator", dependencies=ADMINS,
             response_model=MediatorOut, **SHAPE)
async def create_mediator(body: MediatorIn, deps: MediationDeps):
    return await mediators.create_mediator(deps.uow(), None, body)


@router.get("/{mediator_id}", operation_id="mediation_get_mediator", response_model=MediatorOut, **SHAPE)
async def get_mediator(mediator_id: Ident, deps: MediationDeps, principal: Reader):
    return await mediators.get_mediator(deps.uow(), principal, mediator_id)


@router.patch("/{mediator_id}", operation_id="mediation_patch_mediator", dependencies=ADMINS,
              response_model=MediatorOut, **SHAPE)
async def patch_mediator(mediator_id: Ident, body: MediatorPatch, deps: MediationDeps):
    return await mediators.patch_mediator(deps.uow(), None, mediator_id, body)


@router.put("/{mediator_id}/availability", operation_id="mediation_set_availability", response_model=MediatorOut,
            **SHAPE)
async def set_availability(mediator_id: Ident, body: AvailabilityIn, deps: MediationDeps, principal: CurrentPrincipal):
    return await availability.set_availability(deps.uow(), principal, mediator_id,
                                               [w.model_dump() for w in body.weekly])


@router.post("/{mediator_id}/leaves", status_code=201, operation_id="mediation_add_leave")
async def add_leave(mediator_id: Ident, body: LeaveIn, deps: MediationDeps, principal: CurrentPrincipal
                    ) -> LeaveCreated:
    return await availability.add_leave(deps.uow(), principal, mediator_id, body)


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
async def slots(mediator_id: Ident, deps: MediationDeps, from_: Annotated[datetime, Query(alias="from")],
                to: datetime) -> list[SlotOut]:
    _check_times(**{"from": from_, "to": to})
    return await availability.mediator_slots(deps.uow(), None, mediator_id, from_, to)


@router.get("/{mediator_id}/bookings", operation_id="mediation_mediator_bookings")
async def bookings(mediator_id: Ident, deps: MediationDeps, principal: CurrentPrincipal,
                   from_: Annotated[datetime, Query(alias="from")], to: datetime) -> list[BookingOut]:
    """The mediator's calendar: active bookings in the window (centre staff and the mediator)."""
    _check_times(**{"from": from_, "to": to})
    return await availability.mediator_bookings(deps.uow(), principal, mediator_id, from_, to)

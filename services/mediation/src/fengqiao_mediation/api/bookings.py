"""Matcher proposals and bookings (预约调解): book, reschedule, cancel."""

from fastapi import APIRouter
from fengqiao_common.auth import CurrentPrincipal
from fengqiao_common.db import Session

from .. import service
from .common import PREFIX, Ident, MediationDeps
from .schemas import BookingIn, CancelIn, ProposalRequest, RescheduleIn

router = APIRouter(prefix=PREFIX, tags=["booking"])


@router.post("/matcher/proposals", operation_id="mediation_propose")
async def propose(body: ProposalRequest, session: Session, deps: MediationDeps, principal: CurrentPrincipal):
    """Mediators ranked for a request, each with its reasons and free slots; excluded ones with why."""
    return await service.propose(session, deps, principal, body)


@router.post("/bookings", status_code=201, operation_id="mediation_book")
async def book(body: BookingIn, session: Session, deps: MediationDeps, principal: CurrentPrincipal):
    """Book a slot. 409 with ``alternatives`` when the slot is taken or not available."""
    return await service.book(session, deps, principal, body)


@router.get("/bookings/{booking_id}", operation_id="mediation_get_booking")
async def get_booking(booking_id: Ident, session: Session, principal: CurrentPrincipal):
    return await service.get_booking(session, principal, booking_id)


@router.post("/bookings/{booking_id}/reschedule", operation_id="mediation_reschedule")
async def reschedule(booking_id: Ident, body: RescheduleIn, session: Session, deps: MediationDeps,
                     principal: CurrentPrincipal):
    return await service.reschedule(session, deps, principal, booking_id, body)


@router.post("/bookings/{booking_id}/cancel", operation_id="mediation_cancel_booking")
async def cancel(booking_id: Ident, body: CancelIn, session: Session, deps: MediationDeps, principal: CurrentPrincipal):
    return await service.cancel(session, deps, principal, booking_id, body.reason)

"""Matcher proposals and bookings (预约调解): book, reschedule, cancel."""

from fastapi import APIRouter
from fengqiao_common.auth import CurrentPrincipal

from ..usecases import bookings, proposals
from .common import PREFIX, Ident, MediationDeps
from .schemas import (
    BookingIn,
    BookingOut,
    BookingResult,
    CancelIn,
    ProposalRequest,
    ProposalsOut,
    RescheduleIn,
)

router = APIRouter(prefix=PREFIX, tags=["booking"])


@router.post("/matcher/proposals", operation_id="mediation_propose")
async def propose(body: ProposalRequest, deps: MediationDeps, principal: CurrentPrincipal) -> ProposalsOut:
    """Mediators ranked for a request, each with its reasons and free slots; excluded ones with why."""
    return await proposals.propose(deps.uow(), principal, body)


@router.post("/bookings", status_code=201, operation_id="mediation_book")
async def book(body: BookingIn, deps: MediationDeps, principal: CurrentPrincipal) -> BookingResult:
    """Book a slot. 409 with ``alternatives`` when the slot is taken or not available."""
    return await bookings.book(deps.uow(), principal, body)


@router.get("/bookings/{booking_id}", operation_id="mediation_get_booking")
async def get_booking(booking_id: Ident, deps: MediationDeps, principal: CurrentPrincipal) -> BookingOut:
    return await bookings.get_booking(deps.uow(), principal, booking_id)


@router.post("/bookings/{booking_id}/reschedule", operation_id="mediation_reschedule")
async def reschedule(booking_id: Ident, body: RescheduleIn, deps: MediationDeps,
                     principal: CurrentPrincipal) -> BookingOut:
    return await bookings.reschedule(deps.uow(), principal, booking_id, body)


@router.post("/bookings/{booking_id}/cancel", operation_id="mediation_cancel_booking")
async def cancel(booking_id: Ident, body: CancelIn, deps: MediationDeps, principal: CurrentPrincipal) -> BookingOut:
    return await bookings.cancel(deps.uow(), principal, booking_id, body.reason)

"""Mediations: progress view (parties see their own), session records, verification, agreement, failure."""

from typing import Annotated

from fastapi import APIRouter, Query
from fengqiao_common.auth import CurrentPrincipal
from fengqiao_common.db import Session

from .. import service
from .common import PREFIX, Code, Ident, MediationDeps
from .schemas import FailureIn, SessionIn

router = APIRouter(prefix=PREFIX, tags=["mediations"])


@router.get("/mediations", operation_id="mediation_list")
async def list_mediations(session: Session, principal: CurrentPrincipal, case_id: Code = None,
                          status: Code = None, limit: Annotated[int, Query(ge=1, le=500)] = 100):
    """Centre staff see all; a mediator its own; a party only its own; an external system what it booked."""
    return await service.list_mediations(session, principal, case_id=case_id, status=status, limit=limit)


@router.get("/my/mediations", operation_id="mediation_mine")
async def my_mediations(session: Session, principal: CurrentPrincipal):
    return await service.list_mediations(session, principal, case_id=None, status=None, limit=100)


@router.get("/mediations/{mediation_id}", operation_id="mediation_get")
async def get_mediation(mediation_id: Ident, session: Session, deps: MediationDeps, principal: CurrentPrincipal):
    return await service.mediation_view(session, deps, principal, mediation_id)


@router.post("/mediations/{mediation_id}/sessions", status_code=201, operation_id="mediation_record_session")
async def record_session(mediation_id: Ident, body: SessionIn, session: Session, deps: MediationDeps,
                         principal: CurrentPrincipal):
    return await service.create_session(session, deps, principal, mediation_id, body)


@router.get("/mediations/{mediation_id}/records/verify", operation_id="mediation_verify_records")
async def verify(mediation_id: Ident, session: Session, principal: CurrentPrincipal):
    """Recompute the hash chain of the sealed records (and the agreement's hash)."""
    return await service.verify_records(session, principal, mediation_id)


@router.post("/mediations/{mediation_id}/agreement", status_code=201, operation_id="mediation_generate_agreement")
async def generate_agreement(mediation_id: Ident, session: Session, deps: MediationDeps, principal: CurrentPrincipal):
    return await service.generate_agreement(session, deps, principal, mediation_id)


@router.post("/mediations/{mediation_id}/failure", operation_id="mediation_fail")
async def fail(mediation_id: Ident, body: FailureIn, session: Session, deps: MediationDeps, principal: CurrentPrincipal):
    """Mediation failed: hand the matter on (arbitration, litigation ...) with the recorded outcome."""
    return await service.fail(session, deps, principal, mediation_id, body)


@router.get("/mediations/{mediation_id}/reminders", operation_id="mediation_reminders")
async def reminders(mediation_id: Ident, session: Session, deps: MediationDeps, principal: CurrentPrincipal):
    await service.mediation_view(session, deps, principal, mediation_id)  # access check
    return await service.reminders_for(session, mediation_id)

"""Mediations: progress view (parties see their own), session records, verification, agreement, failure."""

from typing import Annotated

from fastapi import APIRouter, Query
from fengqiao_common.auth import CurrentPrincipal

from ..usecases import agreements, failures, mediations, records, reminders, sessions
from .common import PREFIX, Code, Ident, MediationDeps
from .schemas import (
    AgreementOut,
    FailureIn,
    MediationBrief,
    MediationView,
    RecordBundleOut,
    ReminderOut,
    SessionIn,
    SessionOut,
    VerifyOut,
)

router = APIRouter(prefix=PREFIX, tags=["mediations"])


@router.get("/mediations", operation_id="mediation_list")
async def list_mediations(deps: MediationDeps, principal: CurrentPrincipal, case_id: Code = None,
                          status: Code = None, limit: Annotated[int, Query(ge=1, le=500)] = 100
                          ) -> list[MediationBrief]:
    """Centre staff see all; a mediator its own; a party only its own; an external system what it booked."""
    return await mediations.list_mediations(deps.uow(), principal, case_id=case_id, status=status, limit=limit)


@router.get("/my/mediations", operation_id="mediation_mine")
async def my_mediations(deps: MediationDeps, principal: CurrentPrincipal) -> list[MediationBrief]:
    return await mediations.list_mediations(deps.uow(), principal)


@router.get("/mediations/{mediation_id}", operation_id="mediation_get")
async def get_mediation(mediation_id: Ident, deps: MediationDeps, principal: CurrentPrincipal) -> MediationView:
    return await mediations.mediation_view(deps.uow(), principal, mediation_id)


@router.post("/mediations/{mediation_id}/sessions", status_code=201, operation_id="mediation_record_session")
async def record_session(mediation_id: Ident, body: SessionIn, deps: MediationDeps,
                         principal: CurrentPrincipal) -> SessionOut:
    return await sessions.create_session(deps.uow(), principal, mediation_id, body)


@router.get("/mediations/{mediation_id}/records/verify", operation_id="mediation_verify_records",
            response_model=VerifyOut, response_model_exclude_unset=True)
async def verify(mediation_id: Ident, deps: MediationDeps, principal: CurrentPrincipal):
    """Recompute the hash chain of the sealed records, check each record's Ed25519 seal against the published
    keys (a row rewritten and re-hashed fails), and the agreement's hash and seal."""
    return await records.verify_records(deps.uow(), principal, mediation_id)


@router.get("/mediations/{mediation_id}/records/bundle", operation_id="mediation_record_bundle")
async def record_bundle(mediation_id: Ident, deps: MediationDeps, principal: CurrentPrincipal) -> RecordBundleOut:
    """The sealed records as a bundle a court checks offline (``fengqiao-verify-record``), with the signed
    daily statements and the signed agreement statement."""
    return await records.record_bundle(deps.uow(), principal, mediation_id)


@router.post("/mediations/{mediation_id}/agreement", status_code=201, operation_id="mediation_generate_agreement")
async def generate_agreement(mediation_id: Ident, deps: MediationDeps, principal: CurrentPrincipal) -> AgreementOut:
    return await agreements.generate_agreement(deps.uow(), principal, mediation_id, render=deps.render_pdf)


@router.post("/mediations/{mediation_id}/failure", operation_id="mediation_fail")
async def fail(mediation_id: Ident, body: FailureIn, deps: MediationDeps, principal: CurrentPrincipal
               ) -> MediationView:
    """Mediation failed: hand the matter on (arbitration, litigation ...) with the recorded outcome."""
    return await failures.fail(deps.uow(), principal, mediation_id, body)


@router.get("/mediations/{mediation_id}/reminders", operation_id="mediation_reminders")
async def list_reminders(mediation_id: Ident, deps: MediationDeps, principal: CurrentPrincipal) -> list[ReminderOut]:
    return await reminders.reminders_for(deps.uow(), principal, mediation_id)

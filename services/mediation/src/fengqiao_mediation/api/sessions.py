"""Session records and their signatures (过程确认)."""

from fastapi import APIRouter
from fengqiao_common.auth import CurrentPrincipal
from fengqiao_common.db import Session

from .. import service
from .common import PREFIX, Ident, MediationDeps
from .schemas import OtpIn, SignatureIn

router = APIRouter(prefix=f"{PREFIX}/sessions", tags=["sessions"])


@router.get("/{session_id}", operation_id="mediation_get_session")
async def get_session(session_id: Ident, session: Session, principal: CurrentPrincipal):
    return await service.get_session(session, principal, session_id)


@router.post("/{session_id}/otp", status_code=201, operation_id="mediation_send_otp")
async def send_otp(session_id: Ident, body: OtpIn, session: Session, deps: MediationDeps, principal: CurrentPrincipal):
    """Send a one-time code to the party's phone. The code is never in the response."""
    return await service.request_otp(session, deps, principal, session_id, body.party_id)


@router.post("/{session_id}/signatures", status_code=201, operation_id="mediation_sign")
async def sign(session_id: Ident, body: SignatureIn, session: Session, deps: MediationDeps, principal: CurrentPrincipal):
    """Sign the record (on-screen image or one-time code). The last required signature seals it.
    409 when already signed by this signer or already sealed."""
    return await service.sign(session, deps, principal, session_id, body)

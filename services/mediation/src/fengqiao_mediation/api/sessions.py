"""Session records and their signatures (过程确认)."""

from fastapi import APIRouter
from fengqiao_common.auth import CurrentPrincipal

from ..domain.signing import TooManyCodes
from ..usecases import sessions
from .common import PREFIX, TOO_MANY, Ident, MediationDeps, too_many_codes
from .schemas import OtpIn, OtpSent, SessionOut, SignatureIn, SignedSession

router = APIRouter(prefix=f"{PREFIX}/sessions", tags=["sessions"])


@router.get("/{session_id}", operation_id="mediation_get_session")
async def get_session(session_id: Ident, deps: MediationDeps, principal: CurrentPrincipal) -> SessionOut:
    return await sessions.get_session(deps.uow(), principal, session_id)


@router.post("/{session_id}/otp", status_code=201, operation_id="mediation_send_otp", responses=TOO_MANY)
async def send_otp(session_id: Ident, body: OtpIn, deps: MediationDeps, principal: CurrentPrincipal) -> OtpSent:
    """Send a one-time code to the party's phone. The code is never in the response."""
    try:
        return await sessions.request_otp(deps.uow(), principal, session_id, body.party_id, sms=deps.sms)
    except TooManyCodes as exc:
        raise too_many_codes(exc) from None


@router.post("/{session_id}/signatures", status_code=201, operation_id="mediation_sign")
async def sign(session_id: Ident, body: SignatureIn, deps: MediationDeps, principal: CurrentPrincipal
               ) -> SignedSession:
    """Sign the record (on-screen image or one-time code). The last required signature seals it.
    409 when already signed by this signer or already sealed."""
    return await sessions.sign(deps.uow(), principal, session_id, body)

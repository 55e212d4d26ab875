"""Session records and their signatures (过程确认)."""

from fastapi import APIRouter
from fengqiao_common.auth import CurrentPrincipal, OptionalPrincipal
from fengqiao_common.errors import ApiError

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


@router.post("/{session_id}/signatures", status_code=201, operation_id="mediation_sign",
             responses={401: {"description": "no identity (only a one-time-code signature needs none)"}})
async def sign(session_id: Ident, body: SignatureIn, deps: MediationDeps, principal: OptionalPrincipal
               ) -> SignedSession:
    """Sign the record through the signer's own channel: ``image`` logged in as that party (or as the
    mediator in charge for the mediator's own signature); ``otp`` with the code sent to the party's phone,
    logged in as that party or with no identity at all (the code is the credential); ``in_person`` entered by
    the mediator in charge with the witness's name, role and a photo (never the only channel of every
    party). A mediator never submits a party's signature by image or code (403 ``not_own_channel``). The
    last required signature seals the record. 409 when already signed, sealed, or ``in_person_only``."""
    if principal is None and body.method != "otp":
        raise ApiError(401, "unauthenticated", "未认证", "authentication required",
                       headers={"WWW-Authenticate": "Bearer"})
    return await sessions.sign(deps.uow(), principal, session_id, body)

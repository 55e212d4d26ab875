"""Judicial confirmation (司法确认): applications, more material, and the court's signed callback."""

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fengqiao_common.auth import CurrentPrincipal
from fengqiao_common.errors import ApiError, validation_fields
from pydantic import ValidationError

from ..adapters import court as court_adapter
from ..domain.court import CourtUnavailable
from ..usecases import court
from .common import COURT_DOWN, PREFIX, Ident, MediationDeps, court_unavailable
from .schemas import ApplicationOut, CallbackResult, CourtApplicationIn, CourtCallback, MaterialIn

router = APIRouter(prefix=PREFIX, tags=["court"])


@router.post("/court-applications", status_code=201, operation_id="mediation_apply_to_court", responses=COURT_DOWN)
async def apply(body: CourtApplicationIn, deps: MediationDeps, principal: CurrentPrincipal) -> ApplicationOut:
    try:
        return await court.apply_to_court(deps.uow(), principal, body.mediation_id, court=deps.court)
    except CourtUnavailable as exc:
        raise court_unavailable(exc) from None


@router.get("/court-applications/{application_id}", operation_id="mediation_get_court_application")
async def get_application(application_id: Ident, deps: MediationDeps, principal: CurrentPrincipal) -> ApplicationOut:
    return await court.get_application(deps.uow(), principal, application_id)


@router.post("/court-applications/{application_id}/materials", operation_id="mediation_add_material",
             responses=COURT_DOWN)
async def add_material(application_id: Ident, body: MaterialIn, deps: MediationDeps,
                       principal: CurrentPrincipal) -> ApplicationOut:
    try:
        return await court.add_material(deps.uow(), principal, application_id, body.description, court=deps.court)
    except CourtUnavailable as exc:
        raise court_unavailable(exc) from None


@router.post("/court/callback", operation_id="mediation_court_callback")
async def callback(request: Request, deps: MediationDeps) -> CallbackResult:
    """Called by the court. Authenticated by ``X-Court-Signature`` (HMAC-SHA256 over "<timestamp>.<body>")."""
    body = await request.body()
    if not court_adapter.verify(deps.settings.court_callback_secret, request.headers.get("X-Court-Timestamp"),
                                request.headers.get("X-Court-Signature"), body):
        raise ApiError(401, "bad_signature", "回调签名无效", "invalid or missing court signature")
    try:
        cb = CourtCallback.model_validate_json(body)
    except ValidationError as exc:
        raise ApiError(422, "validation_failed", "请求参数有误", "request validation failed",
                       fields=validation_fields(jsonable_encoder(exc.errors(include_url=False),
                                                                 custom_encoder={Exception: str}))) from None
    return await court.court_callback(deps.uow(), cb)

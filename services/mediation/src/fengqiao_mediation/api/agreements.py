"""The agreement (调解协议书): metadata and PDF download."""

from fastapi import APIRouter
from fastapi.responses import Response
from fengqiao_common.auth import CurrentPrincipal

from ..usecases import agreements
from .common import PREFIX, Ident, MediationDeps
from .schemas import AgreementOut

router = APIRouter(prefix=f"{PREFIX}/agreements", tags=["agreements"])


class PdfResponse(Response):
    media_type = "application/pdf"


@router.get("/{agreement_id}", operation_id="mediation_get_agreement")
async def get_agreement(agreement_id: Ident, deps: MediationDeps, principal: CurrentPrincipal) -> AgreementOut:
    return await agreements.get_agreement(deps.uow(), principal, agreement_id)


@router.get("/{agreement_id}/pdf", operation_id="mediation_agreement_pdf", response_class=PdfResponse,
            responses={200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                             "description": "the agreement PDF; its SHA-256 in X-Content-SHA256",
                             "headers": {"X-Content-SHA256": {"schema": {"type": "string"}}}}})
async def agreement_pdf(agreement_id: Ident, deps: MediationDeps, principal: CurrentPrincipal) -> PdfResponse:
    a = await agreements.get_agreement(deps.uow(), principal, agreement_id, with_pdf=True)
    return PdfResponse(a["pdf"], headers={
        "Content-Disposition": f'attachment; filename="agreement-{agreement_id}.pdf"',
        "X-Content-SHA256": a["sha256"],
    })

"""The agreement (调解协议书): metadata and PDF download."""

from fastapi import APIRouter
from fastapi.responses import Response
from fengqiao_common.auth import CurrentPrincipal
from fengqiao_common.db import Session

from .. import service
from .common import PREFIX, Ident

router = APIRouter(prefix=f"{PREFIX}/agreements", tags=["agreements"])


@router.get("/{agreement_id}", operation_id="mediation_get_agreement")
async def get_agreement(agreement_id: Ident, session: Session, principal: CurrentPrincipal):
    return await service.get_agreement(session, principal, agreement_id)


@router.get("/{agreement_id}/pdf", operation_id="mediation_agreement_pdf",
            responses={200: {"content": {"application/pdf": {}}}})
async def agreement_pdf(agreement_id: Ident, session: Session, principal: CurrentPrincipal):
    a = await service.get_agreement(session, principal, agreement_id, with_pdf=True)
    return Response(a["pdf"], media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="agreement-{agreement_id}.pdf"',
        "X-Content-SHA256": a["sha256"],
    })

"""Development only (not mounted in production): the text messages the development SMS sender "sent"."""

from fastapi import APIRouter
from fengqiao_common.auth import ADMIN, require_roles

from ..adapters.sms import DevSmsSender
from .common import PREFIX, MediationDeps

router = APIRouter(prefix=f"{PREFIX}/dev", tags=["development"])


@router.get("/sms", operation_id="mediation_dev_sms", dependencies=[require_roles(ADMIN)])
async def sms(deps: MediationDeps, phone: str | None = None):
    sender = deps.sms
    if not isinstance(sender, DevSmsSender):
        return []
    return [m.__dict__ for m in sender.sent if phone is None or m.phone == phone][-100:]

"""Development only (not mounted in production): the text messages the development SMS sender "sent"."""

from dataclasses import asdict

from fastapi import APIRouter
from fengqiao_common.auth import ADMIN, require_roles

from ..adapters.sms import DevSmsSender
from .common import PREFIX, MediationDeps
from .schemas import SmsOut

router = APIRouter(prefix=f"{PREFIX}/dev", tags=["development"])


@router.get("/sms", operation_id="mediation_dev_sms", dependencies=[require_roles(ADMIN)])
async def sms(deps: MediationDeps, phone: str | None = None) -> list[SmsOut]:
    sender = deps.sms
    if not isinstance(sender, DevSmsSender):
        return []
    return [asdict(m) for m in sender.sent if phone is None or m.phone == phone][-100:]

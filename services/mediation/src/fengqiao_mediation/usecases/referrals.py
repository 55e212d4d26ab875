"""Referrals from dispatch (mediation.referred) open a mediation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fengqiao_common.ids import new_id
from fengqiao_events.payloads.order import MediationReferred

from ..domain import rules

if TYPE_CHECKING:
    from ..adapters.uow import MediationUoW


async def on_referred(uow: MediationUoW, payload: MediationReferred) -> bool:
    """Idempotent on the referral id; True when a mediation was opened."""
    now = uow.now()
    async with uow:
        created = await uow.mediations.insert_referral(dict(
            id=new_id(), case_id=payload.case_id, case_no=payload.case_no, referral_id=payload.referral_id,
            source="referral", category=payload.category, summary=payload.summary, status=rules.OPEN,
            created_at=now, updated_at=now))
        await uow.commit()
    return created

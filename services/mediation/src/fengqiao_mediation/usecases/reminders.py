"""Deadline reminders: apply for judicial confirmation before the deadline (and once when it passed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal
from fengqiao_common.ids import new_id
from fengqiao_events.payloads.common import SYSTEM
from fengqiao_events.payloads.mediation import JudicialReminded

from ..adapters.sms import SmsSender
from ..domain import court, rules
from ..domain.policy import authorize_view
from . import common

if TYPE_CHECKING:
    from ..adapters.uow import MediationUoW


async def remind_deadlines(new_uow: Callable[[], MediationUoW], *, sms: SmsSender,
                           now: datetime | None = None) -> int:
    """One scan: each mediation awaiting its application gets the most urgent reminder due, once (unique
    per mediation and kind), with its event; the parties are texted after the commit. Returns how many."""
    uow = new_uow()
    now = now or uow.now()
    cfg = uow.cfg
    async with uow:
        due = await uow.agreements.awaiting_application((rules.AGREED, rules.REJECTED))
    sent = 0
    for mediation_id, apply_by in due:
        d = court.reminder_due(apply_by, cfg.remind_days_before, now)
        if d is None:
            continue
        async with uow:
            if not await uow.reminders.record_once(dict(id=new_id(), mediation_id=mediation_id, kind=d.kind,
                                                        due_at=apply_by, sent_at=now)):
                continue
            parties = await uow.mediations.parties(mediation_id)
            med = await common.mediation(uow, mediation_id)
            uow.emit(JudicialReminded(**common.ref(med), at=now, by=SYSTEM, kind=d.kind, deadline=apply_by))
            await uow.commit()
        text = court.reminder_text(apply_by.astimezone(cfg.tz).strftime("%Y年%m月%d日"), d.overdue)
        for party in parties:
            await sms.send(party["phone"], text, purpose="deadline_reminder", ref=mediation_id)
        sent += 1
    return sent


async def reminders_for(uow: MediationUoW, principal: Principal, mediation_id: str) -> list[dict]:
    """The reminders sent for a mediation (who may view it)."""
    async with uow:
        med = await common.mediation(uow, mediation_id)
        authorize_view(principal, med, await common.party_ids(uow, mediation_id))
        return await uow.reminders.for_mediation(mediation_id)

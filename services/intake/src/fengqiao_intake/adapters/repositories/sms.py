"""The resident messages' outbox and the opt-outs (SQL)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..orm import sms_opt_outs, sms_outbox


class SmsRepository:
    def __init__(self, session: AsyncSession):
        self.s = session

    async def enqueue(self, row: dict) -> bool:
        """False when a message with this send key is already queued (a re-delivered event)."""
        r = await self.s.execute(insert(sms_outbox).values(**row).on_conflict_do_nothing(index_elements=["send_key"]))
        return r.rowcount == 1

    async def claim_due(self, now: datetime, limit: int) -> list[dict]:
        """Due pending messages, locked until the caller's transaction ends (other workers skip them)."""
        rows = await self.s.execute(
            select(sms_outbox).where(sms_outbox.c.status == "pending", sms_outbox.c.not_before <= now)
            .order_by(sms_outbox.c.not_before).limit(limit).with_for_update(skip_locked=True))
        return [dict(r) for r in rows.mappings()]

    async def update(self, sms_id: str, **values) -> None:
        await self.s.execute(update(sms_outbox).where(sms_outbox.c.id == sms_id).values(**values))

    async def of_case(self, case_id: str) -> list[dict]:
        rows = await self.s.execute(select(sms_outbox).where(sms_outbox.c.case_id == case_id)
                                    .order_by(sms_outbox.c.created_at, sms_outbox.c.id))
        return [dict(r) for r in rows.mappings()]

    async def opted_out(self, requester_ref: str | None) -> bool:
        if not requester_ref:
            return False
        return (await self.s.execute(select(sms_opt_outs.c.requester_ref).where(
            sms_opt_outs.c.requester_ref == requester_ref))).first() is not None

    async def opt_out(self, requester_ref: str, at: datetime) -> None:
        await self.s.execute(insert(sms_opt_outs).values(requester_ref=requester_ref, at=at)
                             .on_conflict_do_nothing(index_elements=["requester_ref"]))

"""Webhooks, their deliveries and every attempt (SQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..orm import webhook_attempts, webhook_deliveries, webhooks


class WebhookRepository:
    def __init__(self, session: AsyncSession):
        self.s = session

    def _owned(self, q, owner: str | None):
        return q if owner is None else q.where(webhooks.c.external_system == owner)

    async def add(self, row: dict) -> None:
        await self.s.execute(insert(webhooks).values(**row))

    async def get(self, webhook_id: str, owner: str | None = None) -> dict | None:
        """``owner``: the external system the caller speaks for (None: any)."""
        q = self._owned(select(webhooks).where(webhooks.c.id == webhook_id), owner)
        row = (await self.s.execute(q)).mappings().first()
        return dict(row) if row is not None else None

    async def list(self, owner: str | None = None) -> list[dict]:
        q = self._owned(select(webhooks).order_by(webhooks.c.created_at), owner)
        return [dict(r) for r in (await self.s.execute(q)).mappings().all()]

    async def deactivate(self, webhook_id: str) -> None:
        await self.s.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(active=False))

    async def active_ids(self, systems: list[str]) -> list[str]:
        if not systems:
            return []
        return list((await self.s.execute(
            select(webhooks.c.id).where(webhooks.c.external_system.in_(systems), webhooks.c.active.is_(True))
        )).scalars().all())

    async def by_ids(self, ids: set[str]) -> dict[str, dict]:
        if not ids:
            return {}
        rows = (await self.s.execute(select(webhooks).where(webhooks.c.id.in_(ids)))).mappings().all()
        return {r["id"]: dict(r) for r in rows}

    # --- deliveries ---------------------------------------------------------------------------------

    async def enqueue(self, rows: list[dict]) -> None:
        """One delivery per (webhook, notification): queuing the same notification twice adds nothing."""
        if rows:
            await self.s.execute(pg_insert(webhook_deliveries).values(rows).on_conflict_do_nothing())

    async def delivery(self, delivery_id: str, *, lock: bool = False) -> dict | None:
        q = select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
        if lock:
            q = q.with_for_update()
        row = (await self.s.execute(q)).mappings().first()
        return dict(row) if row is not None else None

    async def update_delivery(self, delivery_id: str, **values) -> None:
        await self.s.execute(update(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
                             .values(**values))

    async def deliveries(self, webhook_id: str, limit: int) -> list[dict]:
        """The newest deliveries of a webhook, each with ``attempt_log`` (every attempt, in order)."""
        rows = (await self.s.execute(
            select(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id)
            .order_by(webhook_deliveries.c.created_at.desc()).limit(limit)
        )).mappings().all()
        out = [dict(r) | {"attempt_log": []} for r in rows]
        if out:
            by = {r["id"]: r for r in out}
            atts = (await self.s.execute(
                select(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(list(by)))
                .order_by(webhook_attempts.c.attempt)
            )).mappings().all()
            for a in atts:
                by[a["delivery_id"]]["attempt_log"].append(dict(a))
        return out

    async def claim_due(self, now: datetime, *, limit: int, lease_seconds: float) -> list[dict]:
        """Due pending deliveries, leased until ``now + lease`` (SKIP LOCKED: several replicas never
        claim the same row; a crashed sender's rows are due again when the lease ends)."""
        due = select(webhook_deliveries.c.id).where(
            webhook_deliveries.c.status == "pending", webhook_deliveries.c.next_attempt_at <= now
        ).order_by(webhook_deliveries.c.next_attempt_at).limit(limit).with_for_update(skip_locked=True)
        lease_until = now + timedelta(seconds=lease_seconds)
        rows = (await self.s.execute(
            update(webhook_deliveries).where(webhook_deliveries.c.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=lease_until)
            .returning(webhook_deliveries.c.id, webhook_deliveries.c.webhook_id, webhook_deliveries.c.body,
                       webhook_deliveries.c.attempts, webhook_deliveries.c.next_attempt_at)
        )).mappings().all()
        return [dict(r) for r in rows]

    async def finish_attempt(self, delivery_id: str, *, lease_until: datetime, attempt: int,
                             status_code: int | None, error: str | None, duration_ms: int, values: dict) -> bool:
        """Log the attempt and store the outcome, only while this sender still holds the row's lease
        (``lease_until`` unchanged): False when the lease was lost (another sender has the row)."""
        res = await self.s.execute(
            update(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id,
                                             webhook_deliveries.c.status == "pending",
                                             webhook_deliveries.c.next_attempt_at == lease_until)
            .values(attempts=attempt, last_status_code=status_code, last_error=error, **values)
            .returning(webhook_deliveries.c.id))
        if res.first() is None:
            return False
        await self.s.execute(insert(webhook_attempts).values(
            delivery_id=delivery_id, attempt=attempt, status_code=status_code, error=error, duration_ms=duration_ms))
        return True

"""Attachments, weak signals and the idempotency keys of creates that are not cases (SQL)."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ...domain.idempotency import KeyTaken
from ...domain.visibility import Scope
from ..orm import attachments, idempotency_keys, weak_signals
from ._scope import signal_condition


class IdempotencyRepository:
    """Idempotency-Key of webhook registrations and uploads: (caller, scope, key) -> the first resource."""

    def __init__(self, session: AsyncSession):
        self.s = session

    async def lookup(self, caller: str, scope: str, key: str) -> tuple[str, str] | None:
        """(request hash, resource id) of the first request with this key."""
        row = (await self.s.execute(select(idempotency_keys).where(
            idempotency_keys.c.caller == caller, idempotency_keys.c.scope == scope, idempotency_keys.c.key == key,
        ))).mappings().first()
        return (row["request_hash"], row["resource_id"]) if row is not None else None

    async def claim(self, caller: str, scope: str, key: str, request_hash: str, resource_id: str) -> None:
        """In the creating transaction: raises :class:`KeyTaken` when a concurrent retry holds the key."""
        try:
            async with self.s.begin_nested():
                await self.s.execute(insert(idempotency_keys).values(
                    caller=caller, scope=scope, key=key, request_hash=request_hash, resource_id=resource_id))
        except IntegrityError as exc:
            raise KeyTaken("idempotency_keys_pkey") from exc


class AttachmentRepository:
    def __init__(self, session: AsyncSession):
        self.s = session

    async def get(self, attachment_id: str) -> dict | None:
        row = (await self.s.execute(select(attachments).where(attachments.c.id == attachment_id))).mappings().first()
        return dict(row) if row is not None else None

    async def add(self, row: dict) -> None:
        await self.s.execute(insert(attachments).values(**row))

    async def of_case(self, case_id: str) -> list[dict]:
        rows = (await self.s.execute(
            select(attachments).where(attachments.c.case_id == case_id).order_by(attachments.c.created_at)
        )).mappings().all()
        return [dict(r) for r in rows]


class WeakSignalRepository:
    def __init__(self, session: AsyncSession):
        self.s = session

    async def by_idempotency(self, caller: str, key: str) -> dict | None:
        row = (await self.s.execute(select(weak_signals).where(
            weak_signals.c.idem_caller == caller, weak_signals.c.idem_key == key))).mappings().first()
        return dict(row) if row is not None else None

    async def add(self, row: dict) -> None:
        """Raises :class:`KeyTaken` when a concurrent retry stored the same caller + key first."""
        try:
            async with self.s.begin_nested():
                await self.s.execute(insert(weak_signals).values(**row))
        except IntegrityError as exc:
            if "uq_weak_signals_idempotency" in str(exc.orig):
                raise KeyTaken("uq_weak_signals_idempotency") from exc
            raise

    async def list(self, scope: Scope, limit: int, offset: int) -> list[dict]:
        q = select(weak_signals).order_by(weak_signals.c.reported_at.desc()).limit(limit).offset(offset)
        cond = signal_condition(scope)
        if cond is not None:
            q = q.where(cond)
        return [dict(r) for r in (await self.s.execute(q)).mappings().all()]

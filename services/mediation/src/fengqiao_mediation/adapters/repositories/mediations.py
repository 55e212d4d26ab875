"""Mediations and their parties."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ...domain import rules
from ...domain.policy import ListScope
from .. import orm
from .base import Repository

MD = orm.mediations.c
P = orm.parties.c


class MediationRepository(Repository):
    async def get(self, mediation_id: str, *, lock: bool = False) -> dict | None:
        q = select(orm.mediations).where(MD.id == mediation_id)
        return await self._one(q.with_for_update() if lock else q)

    async def insert(self, values: dict) -> None:
        await self.session.execute(insert(orm.mediations).values(**values))

    async def insert_if_absent(self, values: dict) -> bool:
        res = await self.session.execute(pg_insert(orm.mediations).values(**values)
                                         .on_conflict_do_nothing(index_elements=["id"]).returning(MD.id))
        return res.first() is not None

    async def insert_referral(self, values: dict) -> bool:
        """A referred mediation, once per referral id: False when it exists already."""
        res = await self.session.execute(pg_insert(orm.mediations).values(**values)
                                         .on_conflict_do_nothing(index_elements=["referral_id"]).returning(MD.id))
        return res.first() is not None

    async def update(self, mediation_id: str, now: datetime, **values) -> None:
        await self.session.execute(update(orm.mediations).where(MD.id == mediation_id)
                                   .values(**values, updated_at=now))

    async def list(self, scope: ListScope, *, case_id: str | None, status: str | None, limit: int) -> list[dict]:
        q = select(orm.mediations).order_by(MD.created_at.desc()).limit(limit)
        if case_id:
            q = q.where(MD.case_id == case_id)
        if status:
            q = q.where(MD.status == status)
        if scope.kind == "mediator":
            q = q.where(MD.mediator_id == scope.value)
        elif scope.kind == "party":
            q = q.where(MD.id.in_(select(P.mediation_id).where(P.id == scope.value)))
        elif scope.kind == "external_system":
            q = q.where(MD.external_system == scope.value)
        return await self._all(q)

    async def loads(self, ids: list[str] | None = None) -> dict[str, int]:
        """Active mediations per mediator (what capacity counts)."""
        q = select(MD.mediator_id, func.count()).where(MD.status.in_(rules.ACTIVE)).group_by(MD.mediator_id)
        if ids is not None:
            q = q.where(MD.mediator_id.in_(ids))
        return {m: n for m, n in (await self.session.execute(q)).all() if m}

    async def parties(self, mediation_id: str) -> list[dict]:
        return await self._all(select(orm.parties).where(P.mediation_id == mediation_id).order_by(P.position))

    async def add_parties(self, rows: list[dict]) -> None:
        await self.session.execute(insert(orm.parties).values(rows))

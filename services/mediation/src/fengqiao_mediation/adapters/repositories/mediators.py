"""The mediator pool and leave."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from .. import orm
from .base import Repository

M = orm.mediators.c


class MediatorRepository(Repository):
    async def insert_if_absent(self, values: dict) -> bool:
        res = await self.session.execute(pg_insert(orm.mediators).values(**values).on_conflict_do_nothing()
                                         .returning(M.id))
        return res.first() is not None

    async def insert_many_if_absent(self, rows: list[dict]) -> int:
        res = await self.session.execute(pg_insert(orm.mediators).values(rows).on_conflict_do_nothing()
                                         .returning(M.id))
        return len(res.all())

    async def get(self, mediator_id: str, *, lock: bool = False) -> dict | None:
        q = select(orm.mediators).where(M.id == mediator_id)
        return await self._one(q.with_for_update() if lock else q)

    async def name(self, mediator_id: str) -> str | None:
        return (await self.session.execute(select(M.name).where(M.id == mediator_id))).scalar_one_or_none()

    async def list(self, *, category: str | None = None, dialect: str | None = None, kind: str | None = None,
                   active: bool | None = None) -> list[dict]:
        q = select(orm.mediators).order_by(M.id)
        if category:
            q = q.where(M.categories.any_() == category)
        if dialect:
            q = q.where(M.dialects.any_() == dialect)
        if kind:
            q = q.where(M.kind == kind)
        if active is not None:
            q = q.where(M.active == active)
        return await self._all(q)

    async def candidates(self, category: str, extra_id: str | None = None) -> list[dict]:
        """Mediators of ``category`` (and ``extra_id`` whatever its categories)."""
        cond = M.categories.any_() == category
        if extra_id:
            cond = or_(cond, M.id == extra_id)
        return await self._all(select(orm.mediators).where(cond))

    async def update(self, mediator_id: str, values: dict, now: datetime) -> bool:
        res = await self.session.execute(update(orm.mediators).where(M.id == mediator_id)
                                         .values(**values, updated_at=now).returning(M.id))
        return res.first() is not None

    async def add_leave(self, values: dict) -> None:
        await self.session.execute(insert(orm.leaves).values(**values))

    async def leaves(self, mediator_id: str) -> list[dict]:
        lv = orm.leaves.c
        return await self._all(select(orm.leaves).where(lv.mediator_id == mediator_id).order_by(lv.starts_at))

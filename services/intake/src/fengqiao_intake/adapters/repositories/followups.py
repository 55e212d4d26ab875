"""Follow-up (回访) tasks (SQL)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..orm import cases, follow_ups

_LIST = [*follow_ups.c, cases.c.case_no, cases.c.summary, cases.c.status.label("case_status"),
         cases.c.category]


class FollowUpRepository:
    def __init__(self, session: AsyncSession):
        self.s = session

    async def open_task(self, row: dict) -> bool:
        """False when the case's cycle has its task already."""
        r = await self.s.execute(insert(follow_ups).values(**row)
                                 .on_conflict_do_nothing(constraint="uq_follow_ups_cycle"))
        return r.rowcount == 1

    async def of_cycle(self, case_id: str, cycle: int, *, lock: bool = False) -> dict | None:
        q = select(follow_ups).where(follow_ups.c.case_id == case_id, follow_ups.c.cycle == cycle)
        if lock:
            q = q.with_for_update()
        row = (await self.s.execute(q)).mappings().first()
        return dict(row) if row is not None else None

    async def get(self, task_id: str, *, lock: bool = False) -> dict | None:
        q = select(follow_ups).where(follow_ups.c.id == task_id)
        if lock:
            q = q.with_for_update()
        row = (await self.s.execute(q)).mappings().first()
        return dict(row) if row is not None else None

    async def update(self, task_id: str, **values) -> None:
        await self.s.execute(update(follow_ups).where(follow_ups.c.id == task_id).values(**values))

    async def list(self, *, status: str | None, to_leader: bool | None, limit: int,
                   offset: int) -> tuple[list[dict], int]:
        q = select(*_LIST).select_from(follow_ups.join(cases, cases.c.id == follow_ups.c.case_id))
        n = select(func.count()).select_from(follow_ups)
        for cond in ([follow_ups.c.status == status] if status else []) + (
                [follow_ups.c.to_leader == to_leader] if to_leader is not None else []):
            q, n = q.where(cond), n.where(cond)
        rows = await self.s.execute(q.order_by(follow_ups.c.due_at, follow_ups.c.id).limit(limit).offset(offset))
        return [dict(r) for r in rows.mappings()], (await self.s.execute(n)).scalar_one()

"""The audit of personal-data views (``pii_access_log``): written with the read, searched by admin / DPO."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..orm import pii_access_log


class AccessLogRepository:
    def __init__(self, session: AsyncSession):
        self.s = session

    async def add(self, rows: list[dict]) -> None:
        if rows:
            await self.s.execute(insert(pii_access_log), rows)

    async def search(self, *, case_ids: list[str] | None = None, actor_id: str | None = None,
                     since: datetime | None = None, until: datetime | None = None, limit: int = 100,
                     offset: int = 0) -> tuple[list[dict], int]:
        t = pii_access_log.c
        conds = [c for c in (t.case_id.in_(case_ids) if case_ids is not None else None,
                             t.actor_id == actor_id if actor_id else None,
                             t.at >= since if since else None, t.at <= until if until else None) if c is not None]
        q = select(pii_access_log).order_by(t.at.desc(), t.id.desc()).limit(limit).offset(offset)
        cq = select(func.count()).select_from(pii_access_log)
        if conds:
            q, cq = q.where(and_(*conds)), cq.where(and_(*conds))
        rows = [dict(r) for r in (await self.s.execute(q)).mappings().all()]
        return rows, (await self.s.execute(cq)).scalar_one()

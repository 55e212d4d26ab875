"""Proposed duplicates awaiting the dispatcher's review, and the decisions (SQL)."""

from __future__ import annotations

from sqlalchemy import and_, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..orm import cases, duplicate_reviews

_p = cases.alias("p")
_COLS = [cases.c.id, cases.c.case_no, cases.c.category, cases.c.summary, cases.c.description, cases.c.reported_at,
         cases.c.status, cases.c.grid, cases.c.parties,
         _p.c.id.label("candidate_id"), _p.c.case_no.label("candidate_no"), _p.c.summary.label("candidate_summary"),
         _p.c.description.label("candidate_description"), _p.c.status.label("candidate_status"),
         _p.c.reported_at.label("candidate_reported_at")]


def _pending():
    reviewed = exists().where(duplicate_reviews.c.case_id == cases.c.id)
    return and_(cases.c.duplicate_of.is_not(None), cases.c.merged_into.is_(None),
                cases.c.status.not_in(("closed", "merged")), ~reviewed)


class DuplicateRepository:
    def __init__(self, session: AsyncSession):
        self.s = session

    async def pending(self, *, limit: int, offset: int, case_id: str | None = None) -> tuple[list[dict], int]:
        src = cases.join(_p, _p.c.id == cases.c.duplicate_of)
        cond = _pending() if case_id is None else and_(_pending(), cases.c.id == case_id)
        rows = await self.s.execute(select(*_COLS).select_from(src).where(cond)
                                    .order_by(cases.c.reported_at.desc(), cases.c.id).limit(limit).offset(offset))
        total = (await self.s.execute(select(func.count()).select_from(src).where(cond))).scalar_one()
        return [dict(r) for r in rows.mappings()], total

    async def decide(self, row: dict) -> bool:
        """False when the case was decided before (a concurrent or repeated decision)."""
        r = await self.s.execute(insert(duplicate_reviews).values(**row).on_conflict_do_nothing())
        return r.rowcount == 1

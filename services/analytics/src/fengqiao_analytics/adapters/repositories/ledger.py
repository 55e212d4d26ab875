"""SQL of the weak-signal ledger: signals, their status history, and the announcements already made."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..orm import emitted, signal_history, signals

# what the ledger lists: real signals (not a status change seen before its signal) that are active or triaged
LISTED = and_(signals.c.source != "pending", or_(signals.c.active, signals.c.status != "new"))

_DEACTIVATE = (update(signals).where(signals.c.signal_id == bindparam("k_signal_id")).values(
    active=False, reasons=bindparam("reasons", type_=signals.c.reasons.type),
    case_ids=bindparam("case_ids", type_=signals.c.case_ids.type),
    first_at=func.coalesce(bindparam("first_at", type_=signals.c.first_at.type), signals.c.first_at)))


def _rule_upsert():
    stmt = pg_insert(signals)
    ex = stmt.excluded
    return stmt.on_conflict_do_update(index_elements=["signal_id"], set_={
        "source": "rule", "rule": ex.rule, "subject": ex.subject, "active": True, "reasons": ex.reasons,
        "case_ids": ex.case_ids, "people_involved": ex.people_involved,
        "grid": func.coalesce(ex.grid, signals.c.grid), "community": func.coalesce(ex.community, signals.c.community),
        "category": func.coalesce(ex.category, signals.c.category),
        "first_at": func.coalesce(ex.first_at, signals.c.first_at), "updated_at": func.now(),
    }).returning(signals.c.signal_id, text("(xmax = 0) AS inserted"))


_RULE_UPSERT = _rule_upsert()  # cached; executemany with RETURNING
_EMIT = pg_insert(emitted).on_conflict_do_nothing().returning(emitted.c.signal_id)

_CONVERSIONS = text("""
UPDATE a_signals s SET became_case_id = b.cid, became_case_at = b.t
FROM (
    SELECT DISTINCT ON (s2.signal_id) s2.signal_id, k.cid, k.t
    FROM unnest(CAST(:grid AS text[]), CAST(:cat AS text[]), CAST(:t AS timestamptz[]), CAST(:cid AS text[]))
         AS k(grid, cat, t, cid)
    JOIN a_signals s2 ON s2.source = 'report' AND s2.grid = k.grid AND s2.category = k.cat
         AND s2.first_at < k.t AND s2.first_at >= k.t - CAST(:conv AS interval)
    ORDER BY s2.signal_id, k.t, k.cid
) b
WHERE s.signal_id = b.signal_id
  AND (s.became_case_at IS NULL OR s.became_case_at > b.t OR (s.became_case_at = b.t AND s.became_case_id > b.cid))
""")


class SignalsRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    # rule signals -------------------------------------------------------------------------------------
    async def deactivate_many(self, rows: list[dict]) -> None:
        """``{signal_id, reasons, case_ids, first_at}``: an existing signal keeps the latest figures."""
        if rows:
            await self.session.execute(_DEACTIVATE, [
                {"k_signal_id": r["signal_id"], "reasons": r["reasons"], "case_ids": r["case_ids"],
                 "first_at": r["first_at"]} for r in rows])

    async def upsert_rules(self, rows: list[dict]) -> list[str]:
        """Raise (or refresh) active rule signals; returns the ids inserted for the first time, sorted."""
        if not rows:
            return []
        res = await self.session.execute(_RULE_UPSERT, rows)
        return sorted(r[0] for r in res if r[1])

    async def first_announcements(self, signal_ids: list[str]) -> list[str]:
        """Record that these signals are announced; returns those never announced before (survives
        rebuilds)."""
        if not signal_ids:
            return []
        res = await self.session.execute(_EMIT, [{"signal_id": s} for s in sorted(signal_ids)])
        return list(res.scalars().all())

    # grid workers' reports ----------------------------------------------------------------------------
    async def upsert_report(self, row: dict[str, Any]) -> None:
        stmt = pg_insert(signals).values(source="report", rule="grid_report", active=True, **row)
        ex = stmt.excluded
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["signal_id"], set_={
            "source": "report", "rule": "grid_report", "subject": ex.subject, "grid": ex.grid,
            "community": ex.community, "category": ex.category, "reasons": ex.reasons, "summary": ex.summary,
            "people_involved": ex.people_involved, "active": True, "first_at": ex.first_at,
            "updated_at": func.now(),
        }))

    async def set_became_case(self, signal_id: str, case_id: str, at: datetime) -> None:
        await self.session.execute(update(signals).where(signals.c.signal_id == signal_id)
                                   .values(became_case_id=case_id, became_case_at=at))

    async def mark_conversions(self, reports: list[tuple[str, str, datetime, str]], within: timedelta) -> None:
        """``(grid, category, reported_at, case_id)`` of new reports: every grid worker's report of that
        grid and domain in the ``within`` before records the earliest such case (order-independent)."""
        if not reports:
            return
        rows = sorted(reports)
        await self.session.execute(_CONVERSIONS, {
            "grid": [r[0] for r in rows], "cat": [r[1] for r in rows], "t": [r[2] for r in rows],
            "cid": [r[3] for r in rows], "conv": within})

    # status changes -----------------------------------------------------------------------------------
    async def add_history(self, entry: dict[str, Any]) -> bool:
        """Record one status change (keyed by its event id); False if it was already recorded."""
        first = (await self.session.execute(
            pg_insert(signal_history).values(**entry).on_conflict_do_nothing().returning(signal_history.c.event_id)
        )).first()
        return first is not None

    async def latest_status(self, signal_id: str) -> tuple[str, str | None]:
        """(to_status, assignee) of the signal's latest history entry."""
        row = (await self.session.execute(
            select(signal_history.c.to_status, signal_history.c.assignee)
            .where(signal_history.c.signal_id == signal_id)
            .order_by(signal_history.c.at.desc(), signal_history.c.event_id.desc()).limit(1))).one()
        return row.to_status, row.assignee

    async def set_status(self, signal_id: str, status: str, assignee: str | None) -> None:
        """Set the status (a placeholder row ``source='pending'`` if the signal is not known yet)."""
        stmt = pg_insert(signals).values(signal_id=signal_id, source="pending", status=status, assignee=assignee)
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["signal_id"], set_={
            "status": status, "assignee": assignee, "updated_at": func.now()}))

    # reads --------------------------------------------------------------------------------------------
    async def get(self, signal_id: str, *, lock: bool = False) -> dict | None:
        stmt = select(signals).where(signals.c.signal_id == signal_id)
        if lock:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).mappings().first()
        return dict(row) if row is not None else None

    async def history(self, signal_id: str) -> list[dict]:
        rows = (await self.session.execute(
            select(signal_history).where(signal_history.c.signal_id == signal_id)
            .order_by(signal_history.c.at, signal_history.c.event_id))).mappings().all()
        return [dict(h) for h in rows]

    async def listed(self, *, status: str | None = None, rule: str | None = None, grid: str | None = None,
                     community: str | None = None, limit: int = 50, offset: int = 0,
                     departments: list[str] | None = None, grids: list[str] | None = None,
                     ) -> tuple[int, list[dict]]:
        """With ``departments`` and/or ``grids`` (a caller's purpose), only the signals assigned to those
        departments or in those grids."""
        conds = [LISTED]
        if departments is not None or grids is not None:
            conds.append(or_(signals.c.assignee.in_(departments or []), signals.c.grid.in_(grids or [])))
        for col, value in (("status", status), ("rule", rule), ("grid", grid), ("community", community)):
            if value:
                conds.append(signals.c[col] == value)
        total = (await self.session.execute(select(func.count()).select_from(signals).where(*conds))).scalar_one()
        rows = (await self.session.execute(
            select(signals).where(*conds).order_by(signals.c.first_at.desc().nulls_last(), signals.c.signal_id)
            .limit(limit).offset(offset))).mappings().all()
        return int(total), [dict(r) for r in rows]

    async def counts(self) -> list[tuple[str, str, int, int]]:
        """(rule, status, signals, of which became a case) over the listed signals."""
        rows = (await self.session.execute(
            select(signals.c.rule, signals.c.status, func.count(), func.count(signals.c.became_case_id))
            .where(LISTED).group_by(signals.c.rule, signals.c.status))).all()
        return [(r, s, int(n), int(c)) for r, s, n, c in rows]

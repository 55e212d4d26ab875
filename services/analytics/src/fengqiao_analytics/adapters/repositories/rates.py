"""SQL of the rates by period (a_rates): deltas of a transaction written in one statement just before it
commits (like the counters), reads of a few periods."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from sqlalchemy import event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..orm import rates


def _upsert():
    stmt = pg_insert(rates)
    return stmt.on_conflict_do_update(index_elements=["period", "department", "measure"],
                                      set_={"value": rates.c.value + stmt.excluded.value})


_RATE_UPSERT = _upsert()  # cached, executemany (rows in key order: concurrent writers lock in one order)
_PENDING = "fq_analytics_rate_deltas"


def _flush_pending(sync_session) -> None:
    if sync_session.in_nested_transaction():
        return  # a savepoint is being released: wait for the real commit
    pending: Counter = sync_session.info.pop(_PENDING, None) or Counter()
    rows = [{"period": p, "department": d, "measure": m, "value": v} for (p, d, m), v in sorted(pending.items()) if v]
    if rows:
        sync_session.execute(_RATE_UPSERT, rows)


class RatesRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    def stage(self, deltas: Mapping[tuple[str, str, str], int]) -> None:
        """``{(period, department, measure): delta}``, joined to the transaction's pending deltas."""
        if not deltas:
            return
        info = self.session.sync_session.info
        if _PENDING not in info:
            info[_PENDING] = Counter()
            if not info.get("fq_analytics_rates_hooked"):
                info["fq_analytics_rates_hooked"] = True
                event.listen(self.session.sync_session, "before_commit", _flush_pending)
        info[_PENDING].update(deltas)

    async def read(self, periods: list[str]) -> dict[tuple[str, str, str], int]:
        rows = (await self.session.execute(
            select(rates.c.period, rates.c.department, rates.c.measure, rates.c.value)
            .where(rates.c.period.in_(periods)))).all()
        return {(p, d, m): int(v) for p, d, m, v in rows}

"""SQL of the read models: generation (meta), counters, case and order rows, the live ticker.

The batch fold writes with a constant number of statements: rows are locked and loaded with one cached
``INSERT .. ON CONFLICT DO UPDATE .. RETURNING`` (executemany), written back with one cached ``UPDATE``
(executemany); counter deltas of a whole transaction are written in one statement just before it commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, event, func, insert, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ...domain.errors import Deadlocked
from ..orm import READ_MODEL_TABLES, cases, counters, meta, orders, ticker

TICKER_KEEP = 500


# --- generation -------------------------------------------------------------------------------------------
class MetaRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def generation(self) -> int:
        return int((await self.session.execute(select(meta.c.generation).where(meta.c.id == 1))).scalar_one())

    async def is_current(self, generation: int) -> bool:
        """Checked once per transaction with a share lock on the generation row, which a rebuild locks for
        update before truncating: a batch runs wholly before a rebuild or wholly after it."""
        info = self.session.sync_session.info
        if "fq_analytics_current" not in info:
            gen = (await self.session.execute(
                select(meta.c.generation).where(meta.c.id == 1).with_for_update(read=True))).scalar_one()
            info["fq_analytics_current"] = gen == generation
        return info["fq_analytics_current"]

    async def reset(self, consumer_of: Callable[[int], str]) -> int:
        """Lock the generation row, empty every read model, forget what the generation's consumer group
        (``consumer_of(generation)``) processed, move to the next generation (returned). Raises
        :class:`Deadlocked` when it loses a deadlock."""
        try:
            gen = int((await self.session.execute(
                select(meta.c.generation).where(meta.c.id == 1).with_for_update())).scalar_one())
            await self.session.execute(text(f"TRUNCATE {', '.join(READ_MODEL_TABLES)}"))
            await self.session.execute(text("DELETE FROM processed_events WHERE consumer = :c"), {"c": consumer_of(gen)})
            await self.session.execute(update(meta).where(meta.c.id == 1)
                                       .values(generation=gen + 1, rebuilt_at=func.now()))
        except DBAPIError as exc:
            if "deadlock" in str(exc).lower():
                raise Deadlocked(str(exc)) from exc
            raise
        return gen + 1

    async def processed(self, consumer: str) -> int:
        return int((await self.session.execute(
            text("SELECT count(*) FROM processed_events WHERE consumer = :c"), {"c": consumer})).scalar_one())

    async def rebuilt_at(self) -> datetime | None:
        return (await self.session.execute(select(meta.c.rebuilt_at).where(meta.c.id == 1))).scalar_one()


# --- counters ---------------------------------------------------------------------------------------------
def _counter_upsert():
    stmt = pg_insert(counters)
    return stmt.on_conflict_do_update(index_elements=["dim", "key"],
                                      set_={"value": counters.c.value + stmt.excluded.value})


_COUNTER_UPSERT = _counter_upsert()  # one cached statement, executemany (rows in key order)
_PENDING = "fq_analytics_counter_deltas"


def _counter_rows(deltas: Mapping[tuple[str, str], int]) -> list[dict]:
    return [{"dim": d, "key": k, "value": v} for (d, k), v in sorted(deltas.items()) if v]


def _flush_pending(sync_session) -> None:
    if sync_session.in_nested_transaction():
        return  # a savepoint is being released: wait for the real commit
    pending: Counter = sync_session.info.pop(_PENDING, None) or Counter()
    rows = _counter_rows(dict(pending))
    if rows:
        sync_session.execute(_COUNTER_UPSERT, rows)


class CountersRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    def stage(self, deltas: Mapping[tuple[str, str], int]) -> None:
        """Join the transaction's pending deltas, written in one statement just before it commits (a
        handler that fails before staging, in its savepoint, leaves nothing behind)."""
        if not deltas:
            return
        info = self.session.sync_session.info
        if _PENDING not in info:
            info[_PENDING] = Counter()
            if not info.get("fq_analytics_hooked"):
                info["fq_analytics_hooked"] = True
                event.listen(self.session.sync_session, "before_commit", _flush_pending)
        info[_PENDING].update(deltas)

    async def read(self, dims, keys=()) -> dict[tuple[str, str], int]:
        cond = counters.c.dim.in_(list(dims))
        if keys:
            cond = or_(cond, tuple_(counters.c.dim, counters.c.key).in_(list(keys)))
        rows = (await self.session.execute(select(counters.c.dim, counters.c.key, counters.c.value).where(cond))).all()
        return {(d, k): int(v) for d, k, v in rows}


# --- case and order rows ----------------------------------------------------------------------------------
def _update_many(table, key: str):
    """UPDATE of every non-key column of one row, for executemany (one round trip for many rows)."""
    return (update(table).where(table.c[key] == bindparam(f"k_{key}"))
            .values({c.name: bindparam(c.name, type_=c.type) for c in table.c if c.name != key}))


def _lock_many(table, key: str):
    """INSERT .. ON CONFLICT DO UPDATE (a no-op that takes the row lock) RETURNING the row, for executemany."""
    stmt = pg_insert(table)
    return stmt.on_conflict_do_update(index_elements=[key], set_={key: stmt.excluded[key]}).returning(*table.c)


_CASE_LOCK, _ORDER_LOCK = _lock_many(cases, "case_id"), _lock_many(orders, "order_id")
_CASE_UPDATE, _ORDER_UPDATE = _update_many(cases, "case_id"), _update_many(orders, "order_id")
_ORDERS_OF_CASES = (select(orders.c.order_id, orders.c.case_id, orders.c.department, orders.c.dispatched,
                           orders.c.status, orders.c.missed_stages)
                    .where(orders.c.case_id.in_(bindparam("ids", expanding=True))))


class CasesRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def lock_many(self, case_ids: list[str]) -> list[dict]:
        """Insert-or-lock the rows (in key order: concurrent batches lock in the same order), as stored."""
        res = await self.session.execute(_CASE_LOCK, [{"case_id": c} for c in sorted(case_ids)])
        return [dict(r) for r in res.mappings()]

    async def update_many(self, rows: list[dict]) -> None:
        if rows:
            await self.session.execute(_CASE_UPDATE, [{**r, "k_case_id": r["case_id"]} for r in rows])

    async def first_reported(self, grid: str, category: str | None, after: datetime, until: datetime,
                             ) -> tuple[str, datetime] | None:
        """The earliest reported case of ``grid``/``category`` in ``(after, until]``."""
        row = (await self.session.execute(
            select(cases.c.case_id, cases.c.reported_at)
            .where(cases.c.reported, cases.c.grid == grid, cases.c.category == category,
                   cases.c.reported_at > after, cases.c.reported_at <= until)
            .order_by(cases.c.reported_at, cases.c.case_id).limit(1))).first()
        return (row.case_id, row.reported_at) if row is not None else None

    async def window_counts(self, match: list[str], keys: list[tuple], *, wage_arrears: bool = False,
                            ) -> dict[tuple, tuple[int, list[str], datetime | None]]:
        """Reported cases per key in one statement. Each key is ``(*values, start, end)``: the values are
        matched against the case columns named in ``match``, ``reported_at`` against ``[start, end)``.
        Returns key -> (count, sorted case ids, earliest report) for keys with at least one case."""
        if not keys:
            return {}
        n = len(match)
        cols = ", ".join(f"v{i}" for i in range(n))
        arrays = ", ".join([*(f"CAST(:v{i} AS text[])" for i in range(n)),
                            "CAST(:s AS timestamptz[])", "CAST(:e AS timestamptz[])"])
        on = " AND ".join([*(f"c.{m} = k.v{i}" for i, m in enumerate(match)), "c.reported_at >= k.s",
                           "c.reported_at < k.e", "c.reported", *(["c.wage_arrears"] if wage_arrears else [])])
        sql = text(f"SELECT k.i, count(*), array_agg(c.case_id), min(c.reported_at) "
                   f"FROM unnest({arrays}) WITH ORDINALITY AS k({cols}, s, e, i) "
                   f"JOIN a_cases c ON {on} GROUP BY k.i")
        params: dict[str, Any] = {f"v{i}": [k[i] for k in keys] for i in range(n)}
        params |= {"s": [k[n] for k in keys], "e": [k[n + 1] for k in keys]}
        out = {}
        for i, count, ids, first in (await self.session.execute(sql, params)).all():
            out[keys[i - 1]] = (int(count), sorted(ids or []), first)
        return out


class OrdersRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def lock_many(self, rows: list[dict]) -> list[dict]:
        """Insert-or-lock ``{order_id, case_id, department}`` rows (in key order), as stored."""
        res = await self.session.execute(_ORDER_LOCK, sorted(rows, key=lambda r: r["order_id"]))
        return [dict(r) for r in res.mappings()]

    async def of_cases(self, case_ids: list[str]) -> list[dict]:
        """The orders of these cases (the columns a case's aggregates need)."""
        if not case_ids:
            return []
        res = await self.session.execute(_ORDERS_OF_CASES, {"ids": sorted(case_ids)})
        return [dict(r) for r in res.mappings()]

    async def update_many(self, rows: list[dict]) -> None:
        if rows:
            await self.session.execute(_ORDER_UPDATE, [{**r, "k_order_id": r["order_id"]} for r in rows])


# --- the live ticker --------------------------------------------------------------------------------------
_TICKER_INSERT = insert(ticker).returning(ticker.c.id)


class TickerRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(self, rows: list[dict]) -> None:
        """Append rows; when the ids cross a multiple of 100, trim to the newest TICKER_KEEP."""
        if not rows:
            return
        ids = (await self.session.execute(_TICKER_INSERT, rows)).scalars().all()
        lo, hi = min(ids), max(ids)
        if hi // 100 != (lo - 1) // 100:
            await self.session.execute(ticker.delete().where(ticker.c.id <= hi - TICKER_KEEP))

    async def recent(self, after_id: int = 0, limit: int = 20) -> list[dict]:
        """The newest ``limit`` rows after ``after_id``, oldest first."""
        rows = (await self.session.execute(
            select(ticker).where(ticker.c.id > after_id).order_by(ticker.c.id.desc()).limit(limit)
        )).mappings().all()
        return [dict(r) for r in reversed(rows)]

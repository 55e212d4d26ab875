"""The write path of a new case, on a plain asyncpg pool (the hot path: every report goes through it).

Measured (bench/intake_write.py): through the SQLAlchemy session a report cost ~13 ms of intake's CPU
and ten round trips (two pool checkouts with a ping each, BEGIN, the duplicate query, four INSERTs,
COMMIT, the case number). Here it is three statements on one connection:

1. the day's case number: one autocommit statement that commits *asynchronously*
   (``set_config('synchronous_commit', 'off', true)``), so the counter row's lock is released as soon
   as the statement ends instead of after a WAL flush (with a flush in the lock, every report in the
   system queued behind the previous one's fsync). Safe: a case that uses the number commits
   synchronously later, and WAL is flushed in order, so whenever a case is durable, the counter value
   it used is durable too. A crash can lose only numbers that no committed case carries;
2. the duplicate candidates (read; the distance is decided by the domain, in Python);
3. the case, its first requester, its first timeline entry and its outbox row in ONE statement
   (data-modifying CTEs): one statement is one transaction, so all four rows commit - durably,
   synchronous commit - or none does (transactional outbox). With attachments, steps 2 and 3 run in an
   explicit transaction with the attachments locked, checked and linked.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any, Self

import asyncpg
from fengqiao_common.clock import Clock
from fengqiao_common.uow import UnitOfWork
from fengqiao_events.outbox import outbox_row

from ..domain.idempotency import KeyTaken

NEXT_CASE_NO = """
WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true) AS v)
INSERT INTO case_counters (prefix, day, last)
SELECT $1, $2, 1 FROM async_commit
ON CONFLICT (prefix, day) DO UPDATE SET last = case_counters.last + 1
RETURNING last
"""

DUPLICATE_CANDIDATES = """
SELECT id, lat, lon FROM cases
WHERE category = $1 AND status NOT IN ('closed', 'merged') AND reported_at >= $2
  AND lat BETWEEN $3 AND $4 AND lon BETWEEN $5 AND $6
"""

CASE_COLUMNS = (
    "id", "case_no", "channel", "sub_channel", "source_system", "external_ref", "category", "grade",
    "grade_reasons", "keywords", "district", "street", "community", "grid", "lat", "lon", "address", "media_url",
    "summary", "description", "people_involved", "parties", "occurred_at", "reported_at", "reporter", "status",
    "status_at", "duplicate_of", "merged_into", "last_rating", "last_rating_at", "idem_caller", "idem_key",
    "idem_hash", "updated_at", "query_code_hash",
)
SMS_COLUMNS = ("id", "send_key", "template", "params", "phone", "requester_ref", "not_before")


def _insert_case_sql() -> str:
    n = len(CASE_COLUMNS)
    values = ", ".join(f"${i + 1}" for i in range(n))
    p = [f"${n + i + 1}" for i in range(12)]
    return f"""
WITH c AS (
    INSERT INTO cases ({", ".join(CASE_COLUMNS)}) VALUES ({values}) RETURNING id
), r AS (
    INSERT INTO case_requesters (case_id, source_system, channel, requester_ref, origin_case_id, id_ref)
    SELECT id, {p[0]}, {p[1]}, {p[2]}, id, ${n + 15 + len(SMS_COLUMNS)} FROM c
), t AS (
    INSERT INTO case_timeline (case_id, at, kind, status_effect, actor, note, detail)
    SELECT id, {p[3]}, {p[4]}, NULL, {p[5]}, {p[6]}, {p[7]} FROM c
), s AS (
    INSERT INTO sms_outbox (case_id, status, {", ".join(SMS_COLUMNS)})
    SELECT id, 'pending', {", ".join(f"${n + 15 + i}" for i in range(len(SMS_COLUMNS)))} FROM c
    WHERE ${n + 15}::text IS NOT NULL
)
INSERT INTO outbox (event_id, topic, key, lane, headers, value)
SELECT {p[8]}, {p[9]}, {p[10]}, {p[11]}, ${n + 13}, ${n + 14} FROM c
"""


INSERT_CASE = _insert_case_sql()

CLAIM_ATTACHMENTS = """
SELECT id FROM attachments WHERE id = ANY($1::text[]) AND uploaded_by = $2 AND case_id IS NULL FOR UPDATE
"""
LINK_ATTACHMENTS = "UPDATE attachments SET case_id = $2 WHERE id = ANY($1::text[])"
BY_IDEMPOTENCY = "SELECT * FROM cases WHERE idem_caller = $1 AND idem_key = $2"


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)


async def _init(conn: asyncpg.Connection) -> None:
    """json/jsonb as Python values both ways (what SQLAlchemy's JSONB columns give the rest of intake)."""
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=_dumps, decoder=json.loads, schema="pg_catalog")


async def _no_reset(_conn: asyncpg.Connection) -> None:
    """Connections of this pool keep no session state (no LISTEN, SET or advisory lock; an open
    transaction is still rolled back by asyncpg), so releasing one costs no round trip."""


class CaseWriter:
    """Owns a small asyncpg pool; every method is one statement (one round trip)."""

    def __init__(self, dsn: str, *, min_size: int = 2, max_size: int = 16):
        self.dsn = dsn
        self.min_size = min_size
        self.max_size = max_size
        self.pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        """Create the pool without connecting (the service starts, and reports not ready on /readyz, while
        the database is away), then open ``min_size`` connections if the database is there."""
        self.pool = await asyncpg.create_pool(self.dsn, min_size=0, max_size=self.max_size,
                                              init=_init, reset=_no_reset,
                                              max_inactive_connection_lifetime=300)
        conns = []
        try:
            for _ in range(self.min_size):
                conns.append(await self.pool.acquire(timeout=5))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            pass  # warm-up only: connections are opened on first use
        finally:
            for c in conns:
                await self.pool.release(c)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    @asynccontextmanager
    async def connection(self, *, transaction: bool = False) -> AsyncIterator[asyncpg.Connection]:
        """A connection; in autocommit (each statement its own transaction) unless ``transaction``."""
        async with self.pool.acquire() as conn:
            if transaction:
                async with conn.transaction():
                    yield conn
            else:
                yield conn

    async def next_case_seq(self, conn: asyncpg.Connection, prefix: str, day: date) -> int:
        """The next number of ``prefix``'s ``day`` (autocommit, asynchronous commit: see the module doc).
        Must not run inside an explicit transaction (the counter's row lock would last until its end)."""
        assert not conn.is_in_transaction()
        return await conn.fetchval(NEXT_CASE_NO, prefix, day)

    async def duplicate_candidates(self, conn: asyncpg.Connection, category: str, since: datetime,
                                   lat: tuple[float, float], lon: tuple[float, float]) -> list[asyncpg.Record]:
        return await conn.fetch(DUPLICATE_CANDIDATES, category, since, lat[0], lat[1], lon[0], lon[1])

    async def by_idempotency(self, conn: asyncpg.Connection, caller: str, key: str) -> dict | None:
        row = await conn.fetchrow(BY_IDEMPOTENCY, caller, key)
        return dict(row) if row is not None else None

    async def claim_attachments(self, conn: asyncpg.Connection, ids: list[str], uploaded_by: str) -> set[str]:
        """Locks (in the caller's transaction) and returns the ids still free and uploaded by the caller."""
        assert conn.is_in_transaction()
        return {r["id"] for r in await conn.fetch(CLAIM_ATTACHMENTS, ids, uploaded_by)}

    async def link_attachments(self, conn: asyncpg.Connection, ids: list[str], case_id: str) -> None:
        await conn.execute(LINK_ATTACHMENTS, ids, case_id)

    async def insert_case(self, conn: asyncpg.Connection, row: dict, *, requester: dict, timeline: dict,
                          outbox: dict, sms: dict | None = None) -> None:
        """The case row, its first requester and timeline entry, its outbox row and the acceptance message
        to the resident (``sms``, if any), in one statement.

        Raises ``asyncpg.UniqueViolationError`` (``constraint_name`` tells which) like the INSERTs would."""
        args = [row[c] for c in CASE_COLUMNS]
        args += [requester["source_system"], requester["channel"], requester["requester_ref"],
                 timeline["at"], timeline["kind"], timeline["actor"], timeline["note"], timeline["detail"],
                 outbox["event_id"], outbox["topic"], outbox["key"], outbox["lane"], outbox["headers"],
                 outbox["value"]]
        args += [sms[c] for c in SMS_COLUMNS] if sms else [None] * len(SMS_COLUMNS)
        args.append(requester.get("id_ref"))
        await conn.execute(INSERT_CASE, *args)


class NewCaseRepository:
    """The new-case write path behind a repository interface (the fakes implement the same methods).

    Reads run at once; :meth:`add` and :meth:`link_attachments` are staged and written by the unit of
    work's ``commit()`` in ONE statement (with the outbox row of the emitted event)."""

    def __init__(self, writer: CaseWriter, conn: asyncpg.Connection):
        self.writer, self.conn = writer, conn
        self.tx: asyncpg.transaction.Transaction | None = None
        self.staged: dict[str, Any] | None = None
        self.links: tuple[list[str], str] | None = None

    async def by_idempotency(self, caller: str, key: str) -> dict | None:
        return await self.writer.by_idempotency(self.conn, caller, key)

    async def next_seq(self, prefix: str, day: date) -> int:
        """Outside any transaction: the counter row's lock lasts one statement."""
        return await self.writer.next_case_seq(self.conn, prefix, day)

    async def claim_attachments(self, ids: list[str], uploaded_by: str) -> set[str]:
        """Starts the explicit transaction (attachments are locked, checked and linked in it)."""
        if self.tx is None:
            self.tx = self.conn.transaction()
            await self.tx.start()
        return await self.writer.claim_attachments(self.conn, ids, uploaded_by)

    async def duplicate_candidates(self, category: str, since: datetime, lat: tuple[float, float],
                                   lon: tuple[float, float]) -> list[dict]:
        return [dict(r) for r in await self.writer.duplicate_candidates(self.conn, category, since, lat, lon)]

    def add(self, row: dict, *, requester: dict, timeline: dict, sms: dict | None = None) -> None:
        self.staged = {"row": row, "requester": requester, "timeline": timeline, "sms": sms}

    def link_attachments(self, ids: list[str], case_id: str) -> None:
        self.links = (ids, case_id)

    async def flush(self, envelopes: list) -> None:
        assert self.staged is not None and len(envelopes) == 1, "one new case, one event"
        try:
            await self.writer.insert_case(self.conn, self.staged["row"], requester=self.staged["requester"],
                                          timeline=self.staged["timeline"], outbox=outbox_row(envelopes[0]),
                                          sms=self.staged["sms"])
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "uq_cases_idempotency":
                raise KeyTaken(exc.constraint_name) from exc
            raise
        if self.links:
            await self.writer.link_attachments(self.conn, *self.links)
        if self.tx is not None:
            await self.tx.commit()
            self.tx = None
        self.staged = self.links = None

    async def abort(self) -> None:
        self.staged = self.links = None
        if self.tx is not None:
            tx, self.tx = self.tx, None
            await tx.rollback()


class NewCaseUoW(UnitOfWork):
    """The unit of work of a new case on the writer's asyncpg pool: ``uow.new_cases``."""

    new_cases: NewCaseRepository

    def __init__(self, writer: CaseWriter, outbox: Any, clock: Clock | None = None):
        super().__init__(clock)
        self.writer, self.outbox = writer, outbox
        self._acquire = None

    async def __aenter__(self) -> Self:
        assert self.writer.pool is not None
        self._acquire = self.writer.pool.acquire()
        conn = await self._acquire.__aenter__()
        self.new_cases = NewCaseRepository(self.writer, conn)
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is not None or self._pending or self.new_cases.tx is not None:
                await self.rollback()
        finally:
            acquire, self._acquire = self._acquire, None
            await acquire.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        envs = [self.outbox.envelope(p, causation=c) for p, c in self._pending]
        await self.new_cases.flush(envs)
        self._pending.clear()

    async def rollback(self) -> None:
        self._pending.clear()
        await self.new_cases.abort()

"""The durable audit writer on the in-memory unit of work and a spool in a temporary directory: group commit,
spooling when the database fails, moving the spool back (also by the next process), no row lost, bounded."""

import asyncio
import contextlib

from fengqiao_common.auth import Principal
from fengqiao_gateway.adapters.audit_spool import AuditSpool
from fengqiao_gateway.adapters.audit_writer import AuditWriter
from fengqiao_gateway.domain.audit import Caller, audit_row
from gateway_fakes import FakeGatewayUoW

P = Principal(sub="u1", kind="user", name="x", roles=["department_officer"], department="RSJ")


class Db:
    """A unit-of-work factory over one in-memory store that can be broken and that counts transactions."""

    def __init__(self):
        self.uow, self.broken, self.commits = FakeGatewayUoW(), False, 0

    def __call__(self):
        if self.broken:
            raise ConnectionError("database away")
        self.commits += 1
        return self.uow

    @property
    def rows(self):
        return self.uow.store.audit


def row(i: int) -> dict:
    return audit_row(P, Caller(request_id=f"r{i}"), at=FakeGatewayUoW().now(), action="cases.read",
                     object_id=f"C-{i}", fields="name,phone")


@contextlib.asynccontextmanager
async def running(writer: AuditWriter):
    task = asyncio.create_task(writer.run())
    try:
        yield writer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_rows_are_committed_before_write_returns_and_share_transactions():
    db = Db()
    async with running(AuditWriter(db, linger=0.005)) as w:
        assert all(await asyncio.gather(*(w.write(row(i)) for i in range(50))))
        assert sorted(r["request_id"] for r in db.rows) == sorted(f"r{i}" for i in range(50))
        assert db.commits <= 3  # group commit, not one transaction per row
        assert w.backlog == 0


async def test_database_away_rows_spooled_then_moved_once_also_by_the_next_process(tmp_path):
    db = Db()
    db.broken = True
    spool = AuditSpool(tmp_path)
    async with running(AuditWriter(db, spool, linger=0, move_interval=0.05)) as w:
        assert all(await asyncio.gather(*(w.write(row(i)) for i in range(10))))
        assert db.rows == [] and spool.pending()
    assert list(tmp_path.glob("*.tmp")) == []  # the file was closed (and named for movers) at shutdown
    # a new process (the restart) finds the spool and moves it when the database answers
    db.broken = False
    again = AuditWriter(db, AuditSpool(tmp_path), linger=0)
    assert await again.move_spool() == 10
    assert sorted(r["request_id"] for r in db.rows) == sorted(f"r{i}" for i in range(10))
    assert not spool.pending() and await again.move_spool() == 0


async def test_moving_a_spool_the_database_partly_had_adds_no_duplicate(tmp_path):
    db = Db()
    spool = AuditSpool(tmp_path)
    rows = [row(i) for i in range(3)]
    spool.append(rows)
    await db.uow.audit.add(rows[0])  # committed, but its acknowledgement was lost: spooled as well
    assert await AuditWriter(db, spool).move_spool() == 3
    assert sorted(r["request_id"] for r in db.rows) == ["r0", "r1", "r2"]


async def test_neither_database_nor_spool_write_answers_false_keeps_the_row_and_writes_it_later(tmp_path):
    db = Db()
    db.broken = True
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    async with running(AuditWriter(db, AuditSpool(blocker / "spool"), linger=0, wait=0.2,
                                   move_interval=0.05)) as w:
        assert await w.write(row(1)) is False
        assert w.backlog == 1
        db.broken = False
        for _ in range(100):
            if db.rows:
                break
            await asyncio.sleep(0.05)
        assert [r["request_id"] for r in db.rows] == ["r1"] and w.backlog == 0


async def test_the_buffer_is_bounded():
    db = Db()
    db.broken = True
    w = AuditWriter(db, None, max_pending=2, wait=0.05)  # not running: nothing drains
    assert await w.write(row(1)) is False and await w.write(row(2)) is False
    assert w.backlog == 2
    assert await w.write(row(3)) is False and w.backlog == 2  # refused at once, memory stays bounded


async def test_unreadable_tail_of_a_crashed_spool_is_skipped(tmp_path):
    db = Db()
    spool = AuditSpool(tmp_path)
    spool.append([row(1)])
    spool.rotate()
    (path,) = spool.files()
    with path.open("a") as f:
        f.write('{"uid": "cut sho')
    assert await AuditWriter(db, spool).move_spool() == 1
    assert [r["request_id"] for r in db.rows] == ["r1"]

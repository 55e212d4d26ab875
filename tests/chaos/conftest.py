"""Fault injection: the event pipeline here (libs/events outbox relay + idempotent consumer), the whole
stack in test_stack_faults.py (its own module-scoped stack); both add rows to the one results table.

Each scenario runs the real parts as separate processes (fengqiao_devstack.eventlab: a relay and a
consumer whose handler writes one ``effects`` row per event), on a PostgreSQL server and a Tansu
broker of this module's own (so killing them does not disturb other tests), with writes going on.
Afterwards every committed report must have exactly one effect. The table of scenarios is printed
at the end of the session (and written to test-artifacts/chaos.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest
from fengqiao_devstack import eventlab
from fengqiao_devstack.broker import TansuBroker
from fengqiao_devstack.postgres import EmbeddedPostgres, free_port
from fengqiao_devstack.testing import eventually
from fengqiao_events import ensure_topics

RESULTS: list[dict] = []
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    head = ("scenario", "events", "lost", "duplicated", "recovery s", "notes")
    rows = [(r["scenario"], str(r["events"]), str(r["lost"]), str(r["duplicated"]),
             f"{r['recovery_s']:.2f}" if r.get("recovery_s") is not None else "-", r.get("notes", ""))
            for r in RESULTS]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    tr = terminalreporter
    tr.write_sep("=", "fault injection: effects after each scenario")
    tr.write_line("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    for r in rows:
        tr.write_line("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    ARTIFACTS.mkdir(exist_ok=True)
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]
    (ARTIFACTS / "chaos.md").write_text("\n".join(md) + "\n")


@pytest.fixture(scope="session")
def chaos_results() -> list[dict]:
    """Rows of the summary table printed at the end of the session."""
    return RESULTS


@dataclass
class ChaosServers:
    pg: EmbeddedPostgres
    broker: TansuBroker

    def dsn(self, db: str) -> str:
        return self.pg.url(db, driver="postgresql")


@pytest.fixture(scope="session")
def chaos_servers():
    root = Path(tempfile.mkdtemp(prefix="fq-chaos-"))
    pg = EmbeddedPostgres(root / "pg", free_port(), fast=True)
    broker = TansuBroker(port=free_port(), logfile=root / "tansu.log")
    pg.start()
    try:
        broker.start()
        asyncio.run(ensure_topics(broker.bootstrap, partitions=3))
        yield ChaosServers(pg, broker)
    finally:
        broker.stop()
        pg.remove()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Lab:
    """One scenario's pipeline: writer database + relay, consumer database + consumer."""

    servers: ChaosServers
    name: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])

    def __post_init__(self) -> None:
        self.wurl = self.servers.dsn(f"chaos_w_{self.tag}")
        self.curl = self.servers.dsn(f"chaos_c_{self.tag}")
        boot = self.servers.broker.bootstrap
        ARTIFACTS.mkdir(exist_ok=True)
        self.relay = eventlab.Worker("relay", self.wurl, boot, logfile=str(ARTIFACTS / f"chaos-{self.tag}-relay.log"))
        self.consumer = eventlab.Worker("consumer", self.curl, boot, group=f"chaos-{self.tag}",
                                        logfile=str(ARTIFACTS / f"chaos-{self.tag}-consumer.log"))
        self.writer: eventlab.Writer | None = None
        self._load: asyncio.Task | None = None
        self._stop_load = asyncio.Event()

    async def setup(self, start_relay: bool = True, start_consumer: bool = True) -> None:
        # a fresh broker (memory storage) per scenario: consumers start from `earliest`, so they must
        # not first chew through the events of the scenarios before
        broker = self.servers.broker
        await asyncio.to_thread(broker.stop)
        await asyncio.to_thread(broker.start)
        await ensure_topics(broker.bootstrap, partitions=3)
        await eventlab.setup_writer_db(self.wurl)
        await eventlab.setup_consumer_db(self.curl)
        self.writer = eventlab.Writer(self.wurl, pool_size=5)
        if start_relay:
            await asyncio.to_thread(self.relay.start)
        if start_consumer:
            await asyncio.to_thread(self.consumer.start)

    async def write_backlog(self, n: int, per_tx: int = 100) -> None:
        """``n`` reports committed before anything runs (a backlog), ``per_tx`` per transaction."""
        from sqlalchemy import text

        assert self.writer is not None
        for start in range(0, n, per_tx):
            async with self.writer.sessions() as s, s.begin():
                keys = [uuid.uuid4().hex for _ in range(min(per_tx, n - start))]
                envs = await self.writer.outbox.add(s, *[eventlab.make_event(k) for k in keys])
                await s.execute(text("INSERT INTO reports (id, event_id) VALUES (:i, :e)"),
                                [{"i": k, "e": e.id} for k, e in zip(keys, envs, strict=True)])

    def start_load(self, rate: float = 100) -> None:
        async def run() -> None:
            loop = asyncio.get_running_loop()
            start, i = loop.time(), 0
            while not self._stop_load.is_set():
                delay = start + i / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self.writer.write()
                i += 1

        self._load = asyncio.create_task(run())

    async def stop_load(self) -> None:
        self._stop_load.set()
        if self._load:
            await self._load

    async def sql(self, db: str, query: str, *args):
        conn = await asyncpg.connect(self.wurl if db == "w" else self.curl)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    async def consistent(self, timeout: float = 60) -> float:
        """Wait until every committed report has its effect and the outbox is empty; seconds taken."""
        t0 = time.monotonic()
        last: dict = {}

        async def check():
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                t = await eventlab.tally(self.wurl, self.curl)
                last.update(t)
                return t["lost"] == 0 and t["pending"] == 0
            return False

        try:
            await eventually(check, timeout=timeout, interval=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{self.name}: not consistent after {timeout}s: {last}") from exc
        return time.monotonic() - t0

    async def finish(self, recovery_s: float | None, notes: str = "", settle: float = 1.0) -> dict:
        """Let late duplicates show up, then tally; records the row for the summary table."""
        await asyncio.sleep(settle)
        t = await eventlab.tally(self.wurl, self.curl)
        row = {"scenario": self.name, "events": t["events"], "lost": t["lost"], "duplicated": t["duplicated"],
               "unexpected": t["unexpected"], "recovery_s": recovery_s, "notes": notes}
        RESULTS.append(row)
        return row

    async def close(self) -> None:
        self._stop_load.set()
        if self._load and not self._load.done():
            self._load.cancel()
            with contextlib.suppress(BaseException):
                await self._load
        await asyncio.to_thread(self.consumer.stop)
        await asyncio.to_thread(self.relay.stop)
        if self.writer:
            await self.writer.close()


@pytest.fixture
async def lab_factory(chaos_servers):
    labs: list[Lab] = []

    def make(name: str) -> Lab:
        lab = Lab(chaos_servers, name)
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        await lab.close()

"""A small event pipeline for benchmarks and fault injection, built on the real libs/events parts.

- a *writer* database: a ``reports`` table (the state change) + ``outbox`` (+ NOTIFY trigger); each
  write is one transaction inserting a report row and its ``case.queued`` event;
- an :class:`~fengqiao_events.OutboxRelay` publishing that outbox (``relay`` subprocess);
- an :class:`~fengqiao_events.EventConsumer` whose handler writes one ``effects`` row per event into
  its own database, in the consumer's transaction (``consumer`` subprocess).

"Lost" = a committed report without an effect; "duplicated" = more than one effect for one event.
Run as ``python -m fengqiao_devstack.eventlab relay|consumer ...``; the process prints ``READY``
once running and stops cleanly on SIGTERM (SIGKILL is the point of the fault tests).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime

import asyncpg
from fengqiao_common.db import ensure_database, make_engine, make_session_factory
from fengqiao_events import EventConsumer, Outbox, OutboxRelay, ProducerHolder, add_event_tables
from fengqiao_events.payloads.order import CaseQueued
from fengqiao_events.schema import NOTIFY_DDL
from sqlalchemy import MetaData, text

TOPIC = "case.queued"
SOURCE = "/fengqiao/eventlab"


def sa_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


def pg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _create(url: str, extra: list[str]) -> None:
    await ensure_database(sa_url(url))
    engine = make_engine(sa_url(url), pool_size=1)
    md = MetaData()
    add_event_tables(md)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(md.create_all)
            for stmt in NOTIFY_DDL + extra:
                await conn.execute(text(stmt))
    finally:
        await engine.dispose()


async def setup_writer_db(url: str) -> None:
    await _create(url, ["CREATE TABLE IF NOT EXISTS reports (id text PRIMARY KEY, event_id text NOT NULL, "
                        "committed_at double precision)"])


async def setup_consumer_db(url: str) -> None:
    await _create(url, ["CREATE TABLE IF NOT EXISTS effects (n bigserial PRIMARY KEY, event_id text NOT NULL, "
                        "key text NOT NULL, received_at double precision NOT NULL)"])


def make_event(key: str) -> CaseQueued:
    return CaseQueued(case_id=key, reason="eventlab", at=datetime.now(UTC))


class Writer:
    """Writes reports, one transaction each (report row + outbox event), through SQLAlchemy."""

    def __init__(self, url: str, pool_size: int = 10):
        self.engine = make_engine(sa_url(url), pool_size=pool_size)
        self.sessions = make_session_factory(self.engine)
        self.outbox = Outbox(SOURCE)
        self.committed: dict[str, float] = {}  # event id -> commit time (time.time())
        self.failed = 0

    async def write(self, key: str | None = None, payload=None) -> str | None:
        key = key or uuid.uuid4().hex
        try:
            async with self.sessions() as s, s.begin():
                (env,) = await self.outbox.add(s, payload or make_event(key))
                await s.execute(text("INSERT INTO reports (id, event_id) VALUES (:i, :e)"), {"i": key, "e": env.id})
        except Exception:
            self.failed += 1
            return None
        self.committed[env.id] = time.time()
        return env.id

    async def close(self) -> None:
        await self.engine.dispose()


async def tally(writer_url: str, consumer_url: str) -> dict:
    """Compare committed reports with the consumer's effects."""
    w = await asyncpg.connect(pg_dsn(writer_url))
    c = await asyncpg.connect(pg_dsn(consumer_url))
    try:
        committed = {r["event_id"] for r in await w.fetch("SELECT event_id FROM reports")}
        pending = await w.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        rows = await c.fetch("SELECT event_id, count(*) AS n FROM effects GROUP BY event_id")
    finally:
        await w.close()
        await c.close()
    effects = {r["event_id"]: r["n"] for r in rows}
    return {
        "events": len(committed),
        "effects": sum(effects.values()),
        "lost": len(committed - effects.keys()),
        "duplicated": sum(n - 1 for e, n in effects.items() if n > 1 and e in committed),
        "unexpected": len(effects.keys() - committed),
        "pending": pending,
    }


async def replay_since(writer_url: str, seconds_before: float) -> int:
    """Mark events published in the last ``seconds_before`` seconds for publishing again.

    The recovery step after a broker that lost its data (Tansu memory storage) restarts: events it
    had acknowledged but no consumer had read yet are gone from Kafka; the outbox still has them.
    Safe because every consumer is idempotent. Returns the number of events replayed.
    """
    conn = await asyncpg.connect(pg_dsn(writer_url))
    try:
        res = await conn.execute(
            "UPDATE outbox SET published_at = NULL WHERE published_at > now() - make_interval(secs => $1)",
            float(seconds_before))
    finally:
        await conn.close()
    return int(res.split()[-1])


async def latencies(writer_url: str, consumer_url: str, committed: dict[str, float]) -> list[float]:
    """Seconds from commit (writer) to handler (consumer), per event seen by the consumer."""
    c = await asyncpg.connect(pg_dsn(consumer_url))
    try:
        rows = await c.fetch("SELECT event_id, min(received_at) AS t FROM effects GROUP BY event_id")
    finally:
        await c.close()
    return [r["t"] - committed[r["event_id"]] for r in rows if r["event_id"] in committed]


# -- subprocess entry points ----------------------------------------------------------------------

async def _effect(session, env, payload) -> None:
    await session.execute(
        text("INSERT INTO effects (event_id, key, received_at) VALUES (:e, :k, :t)"),
        {"e": env.id, "k": payload.case_id, "t": time.time()},
    )


async def _serve(runner, holder: ProducerHolder, engine=None, ready_file: str | None = None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(runner.run())
    ready = getattr(runner, "ready", None)
    if ready is not None:  # a consumer: wait for its partitions
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), 60)
    if ready_file:
        with open(ready_file, "w") as f:  # noqa: ASYNC230 - one tiny file at start
            f.write(str(os.getpid()))
    await stop.wait()
    runner.stop()
    task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(task, 5)
    await holder.stop()
    if engine is not None:
        await engine.dispose()


async def run_relay(url: str, bootstrap: str, batch_size: int, ready_file: str | None = None) -> None:
    holder = ProducerHolder(bootstrap, "eventlab-relay")
    relay = OutboxRelay(pg_dsn(url), holder, service="eventlab", batch_size=batch_size, poll_interval=0.5)
    await _serve(relay, holder, None, ready_file)


def _override_fetch_wait(ms: int) -> None:
    """Experiment knob (benchmarks only): the consumer's ``fetch_max_wait_ms``."""
    from fengqiao_events import consumer as consumer_mod

    original = consumer_mod.consumer_config

    def patched(*args, **kwargs):
        return {**original(*args, **kwargs), "fetch_max_wait_ms": ms}

    consumer_mod.consumer_config = patched


async def run_consumer(url: str, bootstrap: str, group: str, batch_size: int, ready_file: str | None = None) -> None:
    engine = make_engine(sa_url(url), pool_size=2)
    holder = ProducerHolder(bootstrap, "eventlab-consumer")
    consumer = EventConsumer(name=group, bootstrap=bootstrap, session_factory=make_session_factory(engine),
                             handlers={TOPIC: _effect}, producer=holder, batch_size=batch_size)
    await _serve(consumer, holder, engine, ready_file)


class Worker:
    """One eventlab process (``relay`` or ``consumer``), startable, killable and restartable."""

    def __init__(self, kind: str, url: str, bootstrap: str, *, group: str = "eventlab", batch_size: int = 500,
                 logfile: str | None = None, fetch_max_wait_ms: int | None = None):
        self.ready_file = os.path.join(tempfile.gettempdir(), f"eventlab-{uuid.uuid4().hex}.ready")
        self.args = [sys.executable, "-m", "fengqiao_devstack.eventlab", kind, "--url", url, "--bootstrap", bootstrap,
                     "--group", group, "--batch-size", str(batch_size), "--ready-file", self.ready_file]
        if fetch_max_wait_ms is not None:
            self.args += ["--fetch-max-wait-ms", str(fetch_max_wait_ms)]
        self.kind = kind
        self.logfile = logfile
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.ready_file)
        out = open(self.logfile, "ab") if self.logfile else subprocess.DEVNULL
        self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.ready_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"eventlab {self.kind} did not start (exit code {self.proc.poll()})")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m fengqiao_devstack.eventlab")
    p.add_argument("kind", choices=["relay", "consumer"])
    p.add_argument("--url", required=True, help="the database (relay: writer database; consumer: its own)")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--group", default="eventlab")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--ready-file", help="written once the worker runs")
    p.add_argument("--fetch-max-wait-ms", type=int, help="experiment: override the consumer's fetch_max_wait_ms")
    a = p.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    from fengqiao_common.logging import configure_logging

    configure_logging(f"eventlab-{a.kind}", "WARNING")
    if a.fetch_max_wait_ms is not None:
        _override_fetch_wait(a.fetch_max_wait_ms)
    if a.kind == "relay":
        asyncio.run(run_relay(a.url, a.bootstrap, a.batch_size, a.ready_file))
    else:
        asyncio.run(run_consumer(a.url, a.bootstrap, a.group, a.batch_size, a.ready_file))


if __name__ == "__main__":
    main()

"""Replaying the outbox (fengqiao_events.replay, ``fengqiao-ops replay``) against the real PostgreSQL and
broker: the rows published since T become pending again and the relay publishes them once more, per key
in their original order, with their original CloudEvents ids; older rows and pending rows are left alone."""

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from fengqiao_common.db import ensure_database, make_engine, make_session_factory
from fengqiao_devstack.testing import EventProbe, eventually
from fengqiao_events import Outbox, OutboxRelay, ProducerHolder, add_event_tables
from fengqiao_events.payloads.order import CaseQueued
from fengqiao_events.replay import main as ops_main
from fengqiao_events.replay import parse_since, plain_dsn, replay_since
from fengqiao_events.schema import NOTIFY_DDL
from sqlalchemy import MetaData, text
from sqlalchemy.engine import make_url

TOPIC = "case.queued"


@pytest.fixture
async def outbox_db(pg_url):
    url = make_url(pg_url).set(database=f"fq_replay_{uuid.uuid4().hex[:10]}").render_as_string(hide_password=False)
    await ensure_database(url)
    engine = make_engine(url, pool_size=2)
    md = MetaData()
    add_event_tables(md)
    async with engine.begin() as conn:
        await conn.run_sync(md.create_all)
        for stmt in NOTIFY_DDL:
            await conn.execute(text(stmt))
    yield url, make_session_factory(engine)
    await engine.dispose()


def test_since_is_an_iso_time_or_a_duration():
    assert parse_since("15m") == timedelta(minutes=15)
    assert parse_since("2h") == timedelta(hours=2)
    assert parse_since("1.5d") == timedelta(days=1.5)
    assert parse_since("90s") == timedelta(seconds=90)
    assert parse_since("2026-12-01T09:30:00+08:00") == datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    assert parse_since("2026-12-01T01:30:00Z") == datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    assert parse_since("2026-12-01T01:30:00") == datetime(2026, 12, 1, 1, 30, tzinfo=UTC)  # no offset: UTC
    with pytest.raises(ValueError):
        parse_since("yesterday")


async def test_replay_republishes_what_was_published_since_t_in_order_with_the_same_ids(outbox_db, kafka_bootstrap):
    url, sessions = outbox_db
    outbox = Outbox("/fengqiao/test")
    marker = uuid.uuid4().hex[:8]
    keys = [f"{marker}-{k}" for k in range(5)]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    async with sessions() as s, s.begin():  # 4 events per key, interleaved
        envs = await outbox.add(s, *[CaseQueued(case_id=k, reason=f"r{i}", at=at) for i in range(4) for k in keys])
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        # published: the first round two hours ago (before T), the rest 10 minutes ago (after T)
        old = {e.id for e in envs[:5]}
        await conn.execute("UPDATE outbox SET published_at = now() - interval '2 hours' WHERE event_id = ANY($1)",
                           list(old))
        await conn.execute("UPDATE outbox SET published_at = now() - interval '10 minutes' WHERE NOT event_id = ANY($1)",
                           list(old))
        dry = await replay_since(url, timedelta(minutes=30), dry_run=True)
        assert dry.rows == 15
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
        done = await replay_since(url, timedelta(minutes=30))
        assert done.rows == 15 and done.since >= dry.since
        pending = {r["event_id"] for r in await conn.fetch("SELECT event_id FROM outbox WHERE published_at IS NULL")}
        assert pending == {e.id for e in envs[5:]}
    finally:
        await conn.close()
    # the relay publishes them again: per key in their original order, with the same ids
    async with EventProbe(kafka_bootstrap, [TOPIC]) as probe:
        relay = OutboxRelay(plain_dsn(url), ProducerHolder(kafka_bootstrap, "replay-test"), service="replay-test",
                            poll_interval=0.2)
        task = asyncio.create_task(relay.run())
        try:
            mine = lambda: [e for e in probe.envelopes(TOPIC) if e.subject in keys]  # noqa: E731
            await eventually(lambda: len(mine()) >= 15, timeout=30)
            await asyncio.sleep(0.5)
        finally:
            relay.stop()
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
    got = mine()
    assert len(got) == 15 and {e.id for e in got} == {e.id for e in envs[5:]}
    for k in keys:
        assert [e.data["reason"] for e in got if e.subject == k] == ["r1", "r2", "r3"]


async def test_ops_command_replays_a_database(outbox_db, capsys):
    url, sessions = outbox_db
    async with sessions() as s, s.begin():
        await Outbox("/fengqiao/test").add(s, CaseQueued(case_id="x", reason="r", at=datetime(2026, 1, 1, tzinfo=UTC)))
        await s.execute(text("UPDATE outbox SET published_at = now() - interval '5 minutes'"))
    assert await asyncio.to_thread(ops_main, ["replay", "--since", "1h", "--database-url", url, "--dry-run"]) == 0
    assert "would replay 1 events" in capsys.readouterr().out
    assert await asyncio.to_thread(ops_main, ["replay", "--since", "1m", "--database-url", url]) == 0
    assert "replayed 0 events" in capsys.readouterr().out
    assert await asyncio.to_thread(ops_main, ["replay", "--since", "1h", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "replayed 1 events" in out and "relays publish them again" in out

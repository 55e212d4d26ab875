"""Outbox relay and idempotent consumer against the real PostgreSQL and the real broker."""

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import pytest
from fengqiao_devstack.broker import TansuBroker
from fengqiao_devstack.postgres import free_port
from fengqiao_devstack.testing import EventProbe, eventually, publish
from fengqiao_events import EventConsumer, Outbox, OutboxRelay, ProducerHolder, ensure_topics, new_envelope
from fengqiao_events.payloads.order import CaseQueued
from sqlalchemy import text

TOPIC = "case.queued"


def queued(case_id: str, reason: str = "r") -> CaseQueued:
    return CaseQueued(case_id=case_id, reason=reason, at=datetime.now(UTC))


@contextlib.asynccontextmanager
async def running(*runners):
    tasks = [asyncio.create_task(r.run()) for r in runners]
    try:
        yield
    finally:
        for r in runners:
            r.stop()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def test_rollback_publishes_nothing_commit_publishes_once_with_two_relays(event_db, producer, kafka_bootstrap):
    url, engine, sessions = event_db
    outbox = Outbox("/fengqiao/test")
    marker = uuid.uuid4().hex
    async with EventProbe(kafka_bootstrap, [TOPIC]) as probe:
        relay_a = OutboxRelay(dsn(url), producer, service="a", poll_interval=0.2)
        relay_b = OutboxRelay(dsn(url), ProducerHolder(kafka_bootstrap, "b"), service="b", poll_interval=0.2)
        async with running(relay_a, relay_b):
            # rolled back: nothing may ever be published
            async with sessions() as s:
                async with s.begin():
                    await outbox.add(s, queued(f"rolled-{marker}"))
                    await s.rollback()
            with pytest.raises(RuntimeError):
                async with sessions() as s, s.begin():
                    await outbox.add(s, queued(f"failed-{marker}"))
                    raise RuntimeError("handler failed after writing")
            # committed: 200 events over many keys
            ids = []
            for i in range(20):
                async with sessions() as s, s.begin():
                    envs = await outbox.add(s, *[queued(f"ok-{marker}-{i}-{j}") for j in range(10)])
                    ids += [e.id for e in envs]
            await probe.wait_for(lambda e: e.id in ids, count=len(ids), timeout=30)
            await asyncio.sleep(1.0)  # give a double publish the chance to show up
        seen = [e.id for e in probe.envelopes(TOPIC) if marker in (e.subject or "")]
        assert sorted(seen) == sorted(ids), "every committed event exactly once"
        assert not [e for e in probe.envelopes(TOPIC) if "rolled" in (e.subject or "") or "failed" in (e.subject or "")]
        # both relays ran, lanes were split between them (never both on one lane)
        assert relay_a.published + relay_b.published == len(ids)
    async with engine.connect() as c:
        pending = await c.scalar(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
    assert pending == 0


async def test_writes_succeed_while_broker_is_down_and_backlog_drains(event_db):
    url, engine, sessions = event_db
    b = TansuBroker(port=free_port())
    b.start()
    await ensure_topics(b.bootstrap, partitions=2)
    holder = ProducerHolder(b.bootstrap, "relay")
    relay = OutboxRelay(dsn(url), holder, service="down", poll_interval=0.2)
    outbox = Outbox("/fengqiao/test")
    ids = []
    try:
        async with running(relay):
            async with sessions() as s, s.begin():
                ids += [e.id for e in await outbox.add(s, queued("before"))]
            await eventually(lambda: relay.published >= 1)
            b.kill9()
            for i in range(30):  # writes keep succeeding with the broker gone
                async with sessions() as s, s.begin():
                    ids += [e.id for e in await outbox.add(s, queued(f"during-{i}"))]
            await asyncio.sleep(1)
            async with engine.connect() as c:
                assert await c.scalar(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")) == 30
            b.start()  # memory storage: comes back empty, topics auto-created on produce
            async with EventProbe(b.bootstrap, [TOPIC], from_beginning=True) as probe:
                await probe.wait_for(lambda e: e.subject.startswith("during-"), count=30, timeout=60)
            async with engine.connect() as c:
                assert await c.scalar(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")) == 0
    finally:
        await holder.stop()
        b.stop()


async def _record(session, env, payload):
    await session.execute(
        text("INSERT INTO effects (event_id, key, seq) VALUES (:e, :k, :s)"),
        {"e": env.id, "k": payload.case_id, "s": int(payload.reason) if payload.reason.isdigit() else None},
    )


async def test_duplicate_delivery_has_one_effect_and_same_key_keeps_order(event_db, producer, kafka_bootstrap):
    _url, engine, sessions = event_db
    key = f"dup-{uuid.uuid4().hex}"
    envs = [new_envelope(queued(key, str(i)), source="/test") for i in range(40)]
    consumer = EventConsumer(name=f"g-{uuid.uuid4().hex[:6]}", bootstrap=kafka_bootstrap, session_factory=sessions,
                             handlers={TOPIC: _record}, producer=producer)
    async with running(consumer):
        await publish(kafka_bootstrap, *envs)
        await publish(kafka_bootstrap, *envs[:10])  # every one of these delivered twice
        await publish(kafka_bootstrap, envs[5])  # and one three times

        async def count():
            async with engine.connect() as c:
                return await c.scalar(text("SELECT count(*) FROM effects WHERE key = :k"), {"k": key}) == 40

        await eventually(count, timeout=30)
        await asyncio.sleep(1.0)
    async with engine.connect() as c:
        rows = (await c.execute(text("SELECT event_id, seq FROM effects WHERE key = :k ORDER BY n"), {"k": key})).all()
    assert len(rows) == 40
    assert [r.seq for r in rows] == list(range(40)), "same key handled in order"
    assert len({r.event_id for r in rows}) == 40


async def test_poison_message_goes_to_dlq_and_partition_moves_on(event_db, producer, kafka_bootstrap):
    _url, engine, sessions = event_db
    key = f"poison-{uuid.uuid4().hex}"
    attempts = {"n": 0}

    async def handler(session, env, payload):
        if payload.reason == "poison":
            attempts["n"] += 1
            raise ValueError("cannot handle this one")
        await _record(session, env, payload)

    bad = new_envelope(queued(key, "poison"), source="/test")
    good = [new_envelope(queued(key, str(i)), source="/test") for i in range(5)]
    consumer = EventConsumer(name=f"g-{uuid.uuid4().hex[:6]}", bootstrap=kafka_bootstrap, session_factory=sessions,
                             handlers={TOPIC: handler}, producer=producer, max_attempts=3)
    async with EventProbe(kafka_bootstrap, [TOPIC + ".dlq"]) as dlq, running(consumer):
        await publish(kafka_bootstrap, bad, *good)
        # an undecodable record on the same partition (same key): dead-lettered without retries
        p = await producer.get()
        await p.send_and_wait(TOPIC, value=b"\x00not-json", key=key.encode(), headers=[("ce_id", b"x")])
        await publish(kafka_bootstrap, new_envelope(queued(key, "99"), source="/test"))
        found = await dlq.wait_for(lambda e: True, count=1, timeout=30)
        assert found[0].id == bad.id
        await eventually(lambda: len(dlq.events) >= 2, timeout=30)

        async def done():
            async with engine.connect() as c:
                return await c.scalar(text("SELECT count(*) FROM effects WHERE key = :k"), {"k": key}) == 6

        await eventually(done, timeout=30)
    assert attempts["n"] == 3
    rec, _env = dlq.events[0]
    h = dict(rec.headers)
    assert h["dlq_origin_topic"] == TOPIC.encode()
    assert b"cannot handle this one" in h["dlq_error"]
    assert h["dlq_attempts"] == b"3"
    raw, raw_env = dlq.events[1]
    assert raw_env is None and raw.value == b"\x00not-json"


async def test_independent_client_reads_cloudevents_headers(event_db, producer, kafka_bootstrap):
    """librdkafka (confluent-kafka) reads what the relay wrote and the CloudEvents headers parse."""
    from confluent_kafka import Consumer

    url, _engine, sessions = event_db
    key = f"ck-{uuid.uuid4().hex}"
    outbox = Outbox("/fengqiao/test")
    relay = OutboxRelay(dsn(url), producer, service="ck", poll_interval=0.2)
    async with running(relay):
        async with sessions() as s, s.begin():
            (env,) = await outbox.add(s, queued(key, "confluent"))
        await eventually(lambda: relay.published >= 1)

    def read():
        c = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"ck-{uuid.uuid4().hex}",
                      "auto.offset.reset": "earliest", "enable.auto.commit": False,
                      # the group joins after the broker's rebalance timeout: keep it short
                      "session.timeout.ms": 6000, "max.poll.interval.ms": 10000, "heartbeat.interval.ms": 1000})
        c.subscribe([TOPIC])
        try:
            for _ in range(300):
                m = c.poll(0.2)
                if m is not None and not m.error() and m.key() == key.encode():
                    return m
        finally:
            c.close()
        return None

    msg = await asyncio.to_thread(read)
    assert msg is not None
    headers = {k: v.decode() for k, v in msg.headers()}
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_id"] == env.id
    assert headers["ce_type"] == "cn.fengqiao.case.queued"
    assert headers["ce_source"] == "/fengqiao/test"
    assert headers["ce_subject"] == key
    assert headers["content-type"] == "application/json"
    datetime.fromisoformat(headers["ce_time"].replace("Z", "+00:00"))
    import json

    assert json.loads(msg.value())["reason"] == "confluent"


async def test_batch_handler_folds_a_poll_across_partitions_once(event_db, producer, kafka_bootstrap):
    """The fast path hands every new event of a poll (many partitions) to the batch handler in one call, in
    partition order; duplicates are filtered first."""
    _url, engine, sessions = event_db
    tag = uuid.uuid4().hex[:8]
    keys = [f"batch-{tag}-{i}" for i in range(12)]  # spread over the topic's partitions
    envs = [new_envelope(queued(k, str(n)), source="/test") for n in range(10) for k in keys]
    sizes: list[int] = []

    async def many(session, items):
        sizes.append(len(items))
        for env, payload in items:
            await _record(session, env, payload)

    consumer = EventConsumer(name=f"g-{tag}", bootstrap=kafka_bootstrap, session_factory=sessions,
                             handlers={TOPIC: _record}, batch_handler=many, producer=producer)
    async with running(consumer):
        await consumer.ready.wait()
        await publish(kafka_bootstrap, *envs)
        await publish(kafka_bootstrap, *envs[:30])  # delivered twice

        async def count():
            async with engine.connect() as c:
                return await c.scalar(text("SELECT count(*) FROM effects WHERE key LIKE :k"), {"k": f"batch-{tag}-%"})

        await eventually(lambda: _equals(count, len(envs)), timeout=30)
        await asyncio.sleep(1.0)
    async with engine.connect() as c:
        rows = (await c.execute(text("SELECT key, seq FROM effects WHERE key LIKE :k ORDER BY n"),
                                {"k": f"batch-{tag}-%"})).all()
    assert len(rows) == len(envs)
    for k in keys:
        assert [r.seq for r in rows if r.key == k] == list(range(10)), "each key in order"
    assert max(sizes) > 1, "whole polls went to the batch handler"


async def _equals(fn, expected) -> bool:
    return await fn() == expected


@pytest.mark.parametrize("sqlstate", ["40P01", "57P03"])
async def test_lock_race_or_database_starting_is_retried_as_a_batch_not_dead_lettered(
        event_db, producer, kafka_bootstrap, sqlstate):
    """A handler that loses a lock race (SQLSTATE 40P01) or meets a database still recovering from a crash
    (57P03, "not yet accepting connections"), raised by PostgreSQL more often than max_attempts, is not the
    message's fault: the batch is rolled back and read again until it succeeds; nothing goes to the DLQ and
    the effect is recorded once."""
    _url, engine, sessions = event_db
    key = f"deadlock-{uuid.uuid4().hex}"
    calls = {"n": 0}

    async def handler(session, env, payload):
        if payload.case_id != key:  # other tests' events on the topic
            return
        calls["n"] += 1
        if calls["n"] <= 4:
            await session.execute(text(f"DO $$ BEGIN RAISE EXCEPTION 'transient' USING ERRCODE = '{sqlstate}'; END $$"))
        await _record(session, env, payload)

    env = new_envelope(queued(key, "1"), source="/test")
    consumer = EventConsumer(name=f"g-{uuid.uuid4().hex[:6]}", bootstrap=kafka_bootstrap, session_factory=sessions,
                             handlers={TOPIC: handler}, producer=producer, max_attempts=3)
    async with EventProbe(kafka_bootstrap, [TOPIC + ".dlq"]) as dlq, running(consumer):
        await publish(kafka_bootstrap, env)

        async def done():
            async with engine.connect() as c:
                return await c.scalar(text("SELECT count(*) FROM effects WHERE key = :k"), {"k": key}) == 1

        await eventually(done, timeout=45)
        await asyncio.sleep(1.0)
        assert not [e for _r, e in dlq.events if e is not None and e.id == env.id]
    assert calls["n"] == 5

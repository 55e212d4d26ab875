"""Faults under load on the outbox relay + idempotent consumer: zero lost, zero duplicated effects.

Every scenario: reports are written (one transaction: report row + outbox event) while a relay and a
consumer run as separate processes; a fault is injected; afterwards every committed report must
have exactly one effect in the consumer's database. Recovery time = from the end of the fault
until that holds.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from fengqiao_devstack import eventlab
from fengqiao_devstack.testing import EventProbe, eventually
from fengqiao_events import ensure_topics, new_envelope
from fengqiao_events.kafka import producer_config

pytestmark = pytest.mark.slow
BACKLOG = 5_000  # several relay batches (1000) and consumer batches (500)


def assert_clean(row: dict) -> None:
    assert row["events"] > 0
    assert row["lost"] == 0, row
    assert row["duplicated"] == 0, row


async def test_broker_kill9_and_restart_under_load(lab_factory, chaos_servers):
    """Tansu with memory storage comes back empty: no topics, no groups, no offsets, and none of the
    events it had acknowledged. Recovery as the supervisor would do it: restart the broker, recreate
    the topics, replay the outbox from just before the crash (consumers dedup), and restart the
    consumers - an aiokafka consumer retries the offset commit to the vanished group forever
    (UnknownTopicOrPartition is "retriable"), see bench/RESULTS.md."""
    lab = lab_factory("broker kill -9 + restart (memory storage)")
    await lab.setup()
    lab.start_load(rate=100)
    await asyncio.sleep(2)
    killed_at = time.monotonic()
    chaos_servers.broker.kill9()
    await asyncio.sleep(2)  # writes go on: they wait in the outbox
    await asyncio.to_thread(chaos_servers.broker.start)
    await ensure_topics(chaos_servers.broker.bootstrap, partitions=3)
    replayed = await eventlab.replay_since(lab.wurl, time.monotonic() - killed_at + 3)
    lab.consumer.kill9()
    await asyncio.to_thread(lab.consumer.start)
    await asyncio.sleep(1)
    await lab.stop_load()
    recovery = await lab.consistent(timeout=90)
    row = await lab.finish(recovery, notes=f"topics recreated, {replayed} events replayed from the outbox, "
                                           "consumer restarted")
    assert_clean(row)


async def test_relay_kill9_mid_batch(lab_factory):
    lab = lab_factory("relay kill -9 mid-batch")
    await lab.setup(start_relay=False)
    await lab.write_backlog(BACKLOG, per_tx=500)
    await asyncio.to_thread(lab.relay.start)
    # kill once it has published part of the backlog, restart it
    await eventually(lambda: lab.sql("w", "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"),
                     timeout=30, interval=0.02)
    lab.relay.kill9()
    pending_at_kill = await lab.sql("w", "SELECT count(*) FROM outbox WHERE published_at IS NULL")
    lab.start_load(rate=100)
    await asyncio.to_thread(lab.relay.start)
    t0 = time.monotonic()
    await asyncio.sleep(1)
    await lab.stop_load()
    recovery = await lab.consistent(timeout=90) + 1
    row = await lab.finish(recovery, notes=f"{pending_at_kill} unpublished at the kill")
    assert 0 < pending_at_kill < BACKLOG, "killed mid-way through the backlog"
    assert_clean(row)
    assert time.monotonic() - t0 < 90


async def test_consumer_kill9_mid_batch(lab_factory):
    lab = lab_factory("consumer kill -9 mid-batch")
    await lab.setup(start_consumer=False)
    await lab.write_backlog(BACKLOG, per_tx=500)
    await eventually(lambda: lab.sql("w", "SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"), timeout=60)
    await asyncio.to_thread(lab.consumer.start)
    await eventually(lambda: lab.sql("c", "SELECT count(*) > 0 FROM effects"), timeout=60, interval=0.02)
    lab.consumer.kill9()
    done_at_kill = await lab.sql("c", "SELECT count(DISTINCT event_id) FROM effects")
    lab.start_load(rate=100)
    await asyncio.to_thread(lab.consumer.start)
    await asyncio.sleep(1)
    await lab.stop_load()
    recovery = await lab.consistent(timeout=90) + 1
    row = await lab.finish(recovery, notes=f"{done_at_kill} handled before the kill")
    assert_clean(row)


async def test_postgres_restart_under_load(lab_factory, chaos_servers):
    lab = lab_factory("PostgreSQL restart under load")
    await lab.setup()
    async with EventProbe(chaos_servers.broker.bootstrap, [eventlab.TOPIC + ".dlq"]) as dlq:
        lab.start_load(rate=100)
        await asyncio.sleep(2)
        await asyncio.to_thread(chaos_servers.pg.stop)  # fast shutdown: every connection is cut
        await asyncio.sleep(1)
        await asyncio.to_thread(chaos_servers.pg.start)
        await asyncio.sleep(2)
        await lab.stop_load()
        recovery = await lab.consistent(timeout=90)
    # a handler failing because the database is away is retried max_attempts times and then
    # dead-lettered like a poison message (its effect still lands on the replay): counted, not hidden
    row = await lab.finish(recovery, notes=f"{lab.writer.failed} writes refused while it was down; "
                                           f"{len(dlq.events)} good events copied to the DLQ during the outage")
    assert lab.writer.failed > 0, "the restart was felt by the writer"
    assert_clean(row)


async def test_every_event_delivered_twice(lab_factory):
    lab = lab_factory("every event delivered twice")
    await lab.setup()
    lab.start_load(rate=100)
    await asyncio.sleep(3)
    await lab.stop_load()
    await lab.consistent(timeout=60)
    # publish everything again (relay replays the whole outbox), while new writes go on
    replayed = await eventlab.replay_since(lab.wurl, 3600)
    lab._stop_load.clear()
    lab.start_load(rate=100)
    await asyncio.sleep(1)
    await lab.stop_load()
    recovery = await lab.consistent(timeout=60)
    row = await lab.finish(recovery, notes=f"{replayed} events published a second time", settle=2.0)
    assert replayed >= 250
    assert_clean(row)


async def test_malformed_and_oversized_messages(lab_factory, chaos_servers):
    lab = lab_factory("malformed + oversized messages")
    await lab.setup()
    boot = chaos_servers.broker.bootstrap
    good = new_envelope(eventlab.make_event("x"), source="/test")
    headers = good.kafka_headers()
    big = json.dumps({"case_id": 1, "reason": "x" * 900_000}).encode()  # ~900 KB, fails validation
    junk = [
        (b"\x00\x01 not json", headers),
        (b"[1, 2, 3]", headers),
        (b'{"case_id": "k"}', headers),  # JSON, but not a case.queued payload
        (b'{"case_id": "k", "reason": "r", "at": "now"}', [h for h in headers if h[0] != "ce_id"]),
        (b'{"case_id": "k", "reason": "r", "at": "2026-01-01T00:00:00Z"}',
         [(k, b"\xff\xfe" if k == "ce_source" else v) for k, v in headers]),
        (b'{"case_id": "k", "reason": "r", "at": "2026-01-01T00:00:00Z"}',
         [(k, b"0.3" if k == "ce_specversion" else v) for k, v in headers]),
        (big, headers),
    ]
    # a valid, large event (~700 KB) must be handled like any other
    large_ok = new_envelope(eventlab.make_event("large").model_copy(update={"reason": "y" * 700_000}),
                            source="/test")
    async with EventProbe(boot, [eventlab.TOPIC + ".dlq"]) as dlq:
        lab.start_load(rate=100)
        p = AIOKafkaProducer(**{**producer_config(boot, "chaos-junk"), "max_request_size": 2 * 2**20})
        await p.start()
        try:
            for value, h in junk:
                for key in (b"k-%d" % i for i in range(3)):  # land on every partition
                    await p.send_and_wait(eventlab.TOPIC, value=value, key=key,
                                          headers=[(k, bytes(v)) for k, v in h])
                await asyncio.sleep(0.1)
            # the large valid event is committed like a report, so the tally expects its effect
            async with lab.writer.sessions() as s, s.begin():
                from sqlalchemy import text

                await lab.writer.outbox.add_envelopes(s, [large_ok])
                await s.execute(text("INSERT INTO reports (id, event_id) VALUES (:i, :e)"),
                                {"i": "large-" + uuid.uuid4().hex, "e": large_ok.id})
        finally:
            await p.stop()
        await asyncio.sleep(1)
        await lab.stop_load()
        recovery = await lab.consistent(timeout=60)
        await eventually(lambda: len(dlq.events) >= len(junk) * 3, timeout=30)
    row = await lab.finish(recovery, notes=f"{len(dlq.events)} junk records dead-lettered, partitions moved on")
    assert_clean(row)
    assert len(dlq.events) == len(junk) * 3
    assert all(dict(r.headers).get("dlq_error") for r, _ in dlq.events)

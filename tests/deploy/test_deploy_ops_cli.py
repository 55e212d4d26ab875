"""The one-off operations commands: migrations (migrate_cli) and topic creation (topics_cli), for real."""

import asyncio
import os
import subprocess
import sys
import uuid

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from fengqiao_common import migrate_cli
from fengqiao_devstack.broker import TansuBroker
from fengqiao_devstack.postgres import free_port
from fengqiao_events import all_specs, topics_cli
from fengqiao_events.registry import department_topic
from fengqiao_events.topics_cli import department_codes
from sqlalchemy.engine import make_url


def _run(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


async def test_migrate_cli_creates_and_migrates_a_database(pg_url):
    name = f"fq_intake_cli_{uuid.uuid4().hex[:8]}"
    url = make_url(pg_url).set(database=name, drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    proc = await asyncio.to_thread(
        _run, "fengqiao_common.migrate_cli", "intake", "--create-database", "--wait", "10",
        env={"INTAKE_DATABASE_URL": url},
    )
    assert proc.returncode == 0, proc.stderr
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        version = await conn.fetchval("SELECT version_num FROM alembic_version")
        tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
    finally:
        await conn.close()
    assert version
    assert {"outbox", "processed_events"} <= tables
    # idempotent: a second run (in-process this time) is a no-op that still succeeds
    assert await asyncio.to_thread(migrate_cli.main, ["intake", "--url", url, "--wait", "10"]) == 0


def test_migrate_cli_fails_fast_without_a_url(monkeypatch):
    monkeypatch.delenv("DISPATCH_DATABASE_URL", raising=False)
    with pytest.raises(SystemExit, match="DISPATCH_DATABASE_URL"):
        migrate_cli.main(["dispatch"])


def test_migrate_cli_fails_when_the_server_is_unreachable():
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/fq_nowhere"
    with pytest.raises(SystemExit, match="not reachable"):
        migrate_cli.main(["gateway", "--url", url, "--wait", "1"])


def test_migrate_cli_offline_sql_mentions_the_event_tables(monkeypatch, capsys):
    monkeypatch.setenv("ANALYTICS_DATABASE_URL", "postgresql+asyncpg://u@db/fq_analytics")
    assert migrate_cli.main(["analytics", "--sql"]) == 0
    assert "CREATE TABLE outbox" in capsys.readouterr().out


@pytest.fixture(scope="module")
def fresh_broker():
    b = TansuBroker(port=free_port())
    b.start()
    try:
        yield b
    finally:
        b.stop()


async def test_topics_cli_creates_every_topic_and_dlq_once(fresh_broker):
    args = ("fengqiao_events.topics_cli", "create", "--bootstrap", fresh_broker.bootstrap,
            "--partitions", "4", "--replication", "1", "--min-insync", "1", "--wait", "20")
    first = await asyncio.to_thread(_run, *args)
    assert first.returncode == 0, first.stderr
    departments = {department_topic(c) for c in department_codes()}  # each department's order topic
    wanted = {s.topic for s in all_specs()} | {s.dlq_topic for s in all_specs()} | departments
    assert f"created {len(wanted)} topic(s)" in first.stdout
    admin = AIOKafkaAdminClient(bootstrap_servers=fresh_broker.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(sorted(wanted))
    finally:
        await admin.close()
    partitions = {d["topic"]: len(d["partitions"]) for d in described}
    for spec in all_specs():
        assert partitions[spec.topic] == (spec.partitions or 4), spec.topic
        assert partitions[spec.dlq_topic] == 1, spec.dlq_topic
    for t in departments:
        assert partitions[t] == 4, t
    second = await asyncio.to_thread(topics_cli.main, list(args[1:]))
    assert second == 0


def test_topics_cli_refuses_min_insync_above_replication(capsys):
    with pytest.raises(SystemExit) as exc:
        topics_cli.main(["create", "--replication", "1", "--min-insync", "2"])
    assert exc.value.code == 2
    assert "min-insync" in capsys.readouterr().err


def test_topics_cli_fails_when_kafka_is_unreachable():
    with pytest.raises(SystemExit, match="not reachable"):
        topics_cli.main(["create", "--bootstrap", f"127.0.0.1:{free_port()}", "--replication", "1",
                         "--min-insync", "1", "--wait", "1"])


def test_committed_kafka_topics_are_generated_from_the_registry():
    assert topics_cli.K8S_PATH.read_text(encoding="utf-8") == topics_cli.render_k8s(), (
        "deploy/k8s/base/kafka-topics/topics.yaml is stale: run "
        "`uv run python -m fengqiao_events.topics_cli k8s --write` and commit it"
    )


async def test_replay_dlq_redelivers_to_the_failed_group_only(pg_url, kafka_bootstrap):
    import contextlib
    from datetime import UTC, datetime

    from fengqiao_common.db import make_engine, make_session_factory
    from fengqiao_devstack.testing import eventually, migrated_database, publish
    from fengqiao_events import EventConsumer, ProducerHolder, new_envelope
    from fengqiao_events.payloads.order import CaseQueued

    url = await migrated_database(pg_url, "analytics", f"replay_{uuid.uuid4().hex[:8]}")
    engine = make_engine(url, pool_size=4)
    sessions = make_session_factory(engine)
    producer = ProducerHolder(kafka_bootstrap, "replay-test")
    failing = {"on": True}
    handled: dict[str, list[str]] = {"flaky": [], "steady": []}

    tag = uuid.uuid4().hex[:8]

    def handler(group):
        async def handle(session, env, payload):
            if env.subject != f"replay-{tag}":
                return  # the topic's earlier history (other tests): not this test's event
            if group == "flaky" and failing["on"]:
                raise RuntimeError("downstream bug")
            handled[group].append(env.id)
        return handle

    flaky = EventConsumer(name=f"flaky-{tag}", bootstrap=kafka_bootstrap, session_factory=sessions,
                          handlers={"case.queued": handler("flaky")}, producer=producer, max_attempts=2)
    steady = EventConsumer(name=f"steady-{tag}", bootstrap=kafka_bootstrap, session_factory=sessions,
                           handlers={"case.queued": handler("steady")}, producer=producer)
    # both groups start at the topic's end: earlier tests in the session left history on case.queued
    from aiokafka import AIOKafkaConsumer, TopicPartition

    for group in (flaky.name, steady.name):
        c = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
        await c.start()
        try:
            parts = c.partitions_for_topic("case.queued")
            if parts is None:
                await c.topics()  # fetches metadata
                parts = c.partitions_for_topic("case.queued") or set()
            tps = [TopicPartition("case.queued", p) for p in sorted(parts)]
            c.assign(tps)
            await c.seek_to_end(*tps)
            await c.commit({tp: await c.position(tp) for tp in tps})
        finally:
            await c.stop()
    tasks = [asyncio.create_task(c.run()) for c in (flaky, steady)]
    env = new_envelope(CaseQueued(case_id=f"replay-{tag}", reason="test", at=datetime.now(UTC)), source="/test")
    cli = ("fengqiao_events.topics_cli", "replay-dlq", "case.queued.dlq", "--consumer", flaky.name,
           "--bootstrap", kafka_bootstrap)
    try:
        await eventually(lambda: flaky.ready.is_set() and steady.ready.is_set(), timeout=30)
        await publish(kafka_bootstrap, env)
        await eventually(lambda: flaky.handled >= 1 and handled["steady"] == [env.id], timeout=30)
        assert handled["flaky"] == []  # dead-lettered after 2 attempts

        dry = await topics_cli.replay_dlq(kafka_bootstrap, "case.queued", consumer=flaky.name, database_url=None,
                                          dry_run=True)
        assert [d["event_id"] for d in dry] == [env.id]
        assert "downstream bug" in dry[0]["error"]

        failing["on"] = False
        done = await asyncio.to_thread(_run, *cli, "--database-url", url)
        assert done.returncode == 0, done.stderr
        assert "replayed 1 message(s)" in done.stderr
        await eventually(lambda: handled["flaky"] == [env.id], timeout=30)
        again = await topics_cli.replay_dlq(kafka_bootstrap, "case.queued", consumer=flaky.name, database_url=url)
        assert again == [], "each dead letter is replayed once"
        assert handled["steady"] == [env.id], "the group that had handled it skips the replayed duplicate"
    finally:
        for c in (flaky, steady):
            c.stop()
        for t in tasks:
            t.cancel()
            with contextlib.suppress(BaseException):
                await t
        await producer.stop()
        await engine.dispose()

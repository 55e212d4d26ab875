"""The one-off operations commands: migrations (migrate_cli) and topic creation (topics_cli), for real."""

import asyncio
import os
import subprocess
import sys
import uuid

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from fengqiao_devstack.broker import TansuBroker
from fengqiao_devstack.postgres import free_port
from fengqiao_events import all_specs, topics_cli
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
    # idempotent: a second run is a no-op that still succeeds
    again = await asyncio.to_thread(_run, "fengqiao_common.migrate_cli", "intake", "--url", url, "--wait", "10")
    assert again.returncode == 0, again.stderr


def test_migrate_cli_fails_fast_without_a_url():
    env = {k: v for k, v in os.environ.items() if k != "DISPATCH_DATABASE_URL"}
    proc = subprocess.run([sys.executable, "-m", "fengqiao_common.migrate_cli", "dispatch"], capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode != 0
    assert "DISPATCH_DATABASE_URL" in proc.stderr


def test_migrate_cli_fails_when_the_server_is_unreachable():
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/fq_nowhere"
    proc = _run("fengqiao_common.migrate_cli", "gateway", "--url", url, "--wait", "1", timeout=60)
    assert proc.returncode != 0
    assert "not reachable" in proc.stderr


def test_migrate_cli_offline_sql_mentions_the_event_tables():
    proc = _run("fengqiao_common.migrate_cli", "analytics", "--sql",
                env={"ANALYTICS_DATABASE_URL": "postgresql+asyncpg://u@db/fq_analytics"})
    assert proc.returncode == 0, proc.stderr
    assert "CREATE TABLE outbox" in proc.stdout


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
    wanted = {s.topic for s in all_specs()} | {s.dlq_topic for s in all_specs()}
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
    second = await asyncio.to_thread(_run, *args)
    assert second.returncode == 0, second.stderr
    assert "created 0 topic(s)" in second.stdout


def test_topics_cli_refuses_min_insync_above_replication():
    proc = _run("fengqiao_events.topics_cli", "create", "--replication", "1", "--min-insync", "2")
    assert proc.returncode == 2
    assert "min-insync" in proc.stderr


def test_topics_cli_fails_when_kafka_is_unreachable():
    proc = _run("fengqiao_events.topics_cli", "create", "--bootstrap", f"127.0.0.1:{free_port()}",
                "--replication", "1", "--min-insync", "1", "--wait", "1", timeout=60)
    assert proc.returncode != 0
    assert "not reachable" in proc.stderr


def test_committed_kafka_topics_are_generated_from_the_registry():
    assert topics_cli.K8S_PATH.read_text(encoding="utf-8") == topics_cli.render_k8s(), (
        "deploy/k8s/base/kafka-topics/topics.yaml is stale: run "
        "`uv run python -m fengqiao_events.topics_cli k8s --write` and commit it"
    )

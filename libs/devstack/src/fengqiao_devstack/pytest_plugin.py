"""pytest fixtures: a real PostgreSQL and a real Kafka-protocol broker per test session.

- ``pg_url``: server URL (``postgresql+asyncpg://postgres@127.0.0.1:PORT/postgres``); an embedded
  server on a free port unless ``FQ_TEST_PG_URL`` names one.
- ``kafka_bootstrap``: a Tansu broker on a free port unless ``FQ_TEST_KAFKA_BOOTSTRAP`` names one;
  every registered topic is created.
- ``broker``: the :class:`TansuBroker` object itself (None when reusing), for fault injection.
- ``service_settings(cls, service, **overrides)``: settings for a service with a migrated database.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from .broker import TansuBroker
from .postgres import EmbeddedPostgres, free_port


@pytest.fixture(scope="session")
def embedded_pg():
    if os.environ.get("FQ_TEST_PG_URL"):
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="fq-test-pg-"))
    server = EmbeddedPostgres(root / "data", free_port(), fast=True)
    try:
        server.start()
        yield server
    finally:
        server.remove()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url(embedded_pg) -> str:
    return os.environ.get("FQ_TEST_PG_URL") or embedded_pg.url()


@pytest.fixture(scope="session")
def broker():
    if os.environ.get("FQ_TEST_KAFKA_BOOTSTRAP"):
        yield None
        return
    b = TansuBroker(port=free_port())
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(broker) -> str:
    from fengqiao_events import ensure_topics

    bootstrap = os.environ.get("FQ_TEST_KAFKA_BOOTSTRAP") or broker.bootstrap
    asyncio.run(ensure_topics(bootstrap, partitions=3))
    return bootstrap


@pytest.fixture(scope="session")
def service_settings(pg_url, kafka_bootstrap):
    """Factory: ``await service_settings(Settings, "intake", suffix=None, **overrides)``."""
    from .testing import migrated_database

    async def make(cls, service: str, suffix: str | None = None, **overrides):
        url = await migrated_database(pg_url, service, suffix)
        values = dict(
            database_url=url, kafka_bootstrap_servers=kafka_bootstrap, environment="test",
            outbox_poll_interval=0.5,
        )
        values.update(overrides)
        return cls(**values)

    return make


@pytest.fixture(scope="session")
def stack():
    """The whole system (every service as a subprocess) on free ports, for end-to-end tests."""
    from .stack import Stack

    root = Path(tempfile.mkdtemp(prefix="fq-stack-"))
    s = Stack(run_dir=root, random_ports=True, fast_pg=True, topic_partitions=3)
    s.start(timeout=240)
    try:
        yield s
    finally:
        s.stop(remove_data=True)
        shutil.rmtree(root, ignore_errors=True)

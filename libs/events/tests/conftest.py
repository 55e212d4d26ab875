import uuid

import pytest
from fengqiao_common.db import ensure_database, make_engine, make_session_factory
from fengqiao_events import ProducerHolder, add_event_tables
from fengqiao_events.schema import NOTIFY_DDL
from sqlalchemy import MetaData, text
from sqlalchemy.engine import make_url


@pytest.fixture
async def event_db(pg_url):
    """A fresh database with the outbox, processed_events and an ``effects`` table for handlers."""
    name = f"fq_events_{uuid.uuid4().hex[:10]}"
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    await ensure_database(url)
    engine = make_engine(url, pool_size=5)
    md = MetaData()
    add_event_tables(md)
    async with engine.begin() as conn:
        await conn.run_sync(md.create_all)
        for stmt in NOTIFY_DDL:
            await conn.execute(text(stmt))
        await conn.execute(text(
            "CREATE TABLE effects (n bigserial PRIMARY KEY, event_id text NOT NULL, key text, seq int)"
        ))
    yield url, engine, make_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def producer(kafka_bootstrap):
    holder = ProducerHolder(kafka_bootstrap, "test")
    yield holder
    await holder.stop()

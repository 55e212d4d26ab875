"""The hand-written migrations build exactly the tables the code declares (no drift)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fengqiao_common.db import make_engine
from fengqiao_gateway.adapters.orm import metadata
from fengqiao_gateway.config import Settings


async def test_migrations_match_the_table_definitions(service_settings):
    settings = await service_settings(Settings, "gateway", suffix="schema")
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
    finally:
        await engine.dispose()
    assert diff == [], diff

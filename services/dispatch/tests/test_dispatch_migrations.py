"""The Alembic migrations build exactly the tables the code declares (no drift)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fengqiao_dispatch.adapters.orm import metadata
from fengqiao_dispatch.config import Settings
from sqlalchemy.ext.asyncio import create_async_engine


async def test_migrated_schema_matches_the_table_definitions(service_settings):
    settings = await service_settings(Settings, "dispatch", suffix="schema")
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
    finally:
        await engine.dispose()
    assert diff == []

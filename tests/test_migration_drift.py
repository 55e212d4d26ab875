"""Every service's Alembic migrations build exactly the tables its code declares (no drift).

One test for all five services: a new column in ``adapters/orm.py`` without a migration (or the
reverse) fails here, naming the service and the difference."""

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fengqiao_common.settings import ServiceSettings
from fengqiao_devstack.testing import SERVICES
from sqlalchemy.ext.asyncio import create_async_engine


@pytest.mark.parametrize("service", SERVICES)
async def test_migrated_schema_matches_the_table_definitions(service_settings, service):
    metadata = importlib.import_module(f"fengqiao_{service}.adapters.orm").metadata
    settings_cls = getattr(importlib.import_module(f"fengqiao_{service}.config"), "Settings", ServiceSettings)
    settings = await service_settings(settings_cls, service, suffix="drift")
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
    finally:
        await engine.dispose()
    assert diff == [], f"{service}: migrations and adapters/orm.py differ: {diff}"

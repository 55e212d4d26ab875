"""The hand-written migrations produce exactly the schema the code's table definitions describe."""

import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fengqiao_common.db import make_engine
from fengqiao_devstack.testing import migrated_database
from fengqiao_mediation.adapters.orm import metadata
from sqlalchemy import text


async def test_migrations_match_the_table_definitions(pg_url):
    url = await migrated_database(pg_url, "mediation", f"schema_{uuid.uuid4().hex[:6]}")
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
            constraints = (await conn.execute(text(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'bookings'::regclass AND contype = 'x'"))).all()
    finally:
        await engine.dispose()
    assert diff == []
    assert [c[0] for c in constraints] == ["bookings_no_overlap"]

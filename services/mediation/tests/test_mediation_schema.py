"""The migrations create the exclusion constraint that refuses a double booking (the drift between the
migrations and adapters/orm.py is checked for every service by tests/test_migration_drift.py)."""

import uuid

from fengqiao_common.db import make_engine
from fengqiao_devstack.testing import migrated_database
from sqlalchemy import text


async def test_bookings_carry_the_no_overlap_exclusion_constraint(pg_url):
    url = await migrated_database(pg_url, "mediation", f"schema_{uuid.uuid4().hex[:6]}")
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            constraints = (await conn.execute(text(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'bookings'::regclass AND contype = 'x'"))).all()
    finally:
        await engine.dispose()
    assert [c[0] for c in constraints] == ["bookings_no_overlap"]

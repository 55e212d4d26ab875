"""Migration 0004 on a real PostgreSQL: departments' links restored from the timelines, old requester refs
marked pending and rekeyed with the HMAC by the real repository, and the downgrade back to 0003."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from alembic import command
from fengqiao_common.clock import SYSTEM_CLOCK
from fengqiao_common.db import _MIGRATE_LOCK, alembic_config, make_engine, make_session_factory, migrate
from fengqiao_devstack.testing import service_dir
from fengqiao_events import Outbox
from fengqiao_intake.adapters.uow import IntakeUoW
from fengqiao_intake.domain import pii
from fengqiao_intake.usecases.pseudonyms import rekey_requesters
from sqlalchemy.engine import make_url

KEY = b"m" * 32


def _downgrade(url: str, revision: str) -> None:
    with _MIGRATE_LOCK:
        command.downgrade(alembic_config(service_dir("intake"), url), revision)


async def _tables(conn) -> set[str]:
    return {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


async def test_0004_restores_department_links_marks_old_refs_and_downgrades(pg_url):
    name = f"fq_intake_mig_{uuid.uuid4().hex[:8]}"
    url = make_url(pg_url).set(database=name, drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raw = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    sd = service_dir("intake")
    await migrate(sd, url, "0003")
    conn = await asyncpg.connect(raw)
    try:
        parties = '[{"name": "张三丰", "phone": "13812345678", "id_card": null, "role": "requester"}]'
        for cid in ("c1", "c2"):
            await conn.execute(
                "INSERT INTO cases (id, case_no, channel, category, grade, district, street, summary, description,"
                " parties, status) VALUES ($1, $2, 'grid_app', 'labour', 'blue', 'D', 'WH', 's', 'd', $3::jsonb,"
                " 'dispatched')", cid, f"WH-{cid}", parties)
        await conn.execute("INSERT INTO case_requesters (case_id, channel, requester_ref, origin_case_id) VALUES "
                           "('c1', 'grid_app', 'req-old1', 'c1'), ('c2', 'grid_app', 'req-old2', 'gone'),"
                           " ('c2', 'grid_app', NULL, 'c2')")
        await conn.execute("INSERT INTO case_timeline (case_id, at, kind, department) VALUES "
                           "('c1', '2026-11-01T10:00:00Z', 'order.dispatched', 'RSS'),"
                           "('c1', '2026-11-02T10:00:00Z', 'order.signed', 'RSS'),"
                           "('c1', '2026-11-03T10:00:00Z', 'order.dispatched', 'PCS'),"
                           "('c2', '2026-11-03T10:00:00Z', 'case.reported', NULL)")
        await migrate(sd, url)
        links = {(r["case_id"], r["department"]): r["first_order_at"].isoformat()
                 for r in await conn.fetch("SELECT * FROM case_departments")}
        assert links == {("c1", "RSS"): "2026-11-01T10:00:00+00:00", ("c1", "PCS"): "2026-11-03T10:00:00+00:00"}
        schemes = {r["origin_case_id"]: r["requester_ref_scheme"] for r in await conn.fetch(
            "SELECT origin_case_id, requester_ref_scheme FROM case_requesters")}
        assert schemes == {"c1": "pending", "gone": "pending", "c2": pii.HMAC_SCHEME}
        # the service's rekey task on the real repository
        engine = make_engine(url, pool_size=2, max_overflow=0)
        try:
            factory = make_session_factory(engine)
            uow = lambda: IntakeUoW(factory, Outbox(source="/fengqiao/intake"), SYSTEM_CLOCK)  # noqa: E731
            assert await rekey_requesters(uow(), key=KEY, batch=10) == 2
            assert await rekey_requesters(uow(), key=KEY, batch=10) == 0
        finally:
            await engine.dispose()
        rows = {r["origin_case_id"]: (r["requester_ref"], r["requester_ref_scheme"]) for r in await conn.fetch(
            "SELECT origin_case_id, requester_ref, requester_ref_scheme FROM case_requesters")}
        assert rows["c1"] == (pii.requester_ref(KEY, phone="13812345678"), pii.HMAC_SCHEME)
        assert rows["gone"] == ("req-old2", pii.LEGACY_SCHEME)
        # a new requester row takes the current scheme by default
        await conn.execute("INSERT INTO case_requesters (case_id, channel, requester_ref, origin_case_id) VALUES "
                           "('c1', 'external', 'req-x', 'c9')")
        assert await conn.fetchval("SELECT requester_ref_scheme FROM case_requesters WHERE origin_case_id = 'c9'") \
            == pii.HMAC_SCHEME
        await asyncio.to_thread(_downgrade, url, "0003")
        tables = await _tables(conn)
        assert not {"case_departments", "case_mediators", "pii_access_log"} & tables and "cases" in tables
        cols = {r["column_name"] for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'case_requesters'")}
        assert "requester_ref_scheme" not in cols
        await migrate(sd, url)  # and up again
        assert {"case_departments", "case_mediators", "pii_access_log"} <= await _tables(conn)
    finally:
        await conn.close()

"""The durable audit of reads and writes of personal data, through the real gateway and fake upstream services
on real ports, on a real PostgreSQL: what a read records (fields declared by the service), database blips and
restarts lose no row, no audit row = no personal data, and who may search and export the log."""

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

from fengqiao_common.auth import ADMIN
from fengqiao_devstack.testing import eventually
from fengqiao_gateway.adapters.orm import audit_log
from sqlalchemy import select, text

from conftest import bearer, create_user, login


async def audit_rows(app, **where) -> list:
    stmt = select(audit_log).order_by(audit_log.c.id)
    for k, v in where.items():
        stmt = stmt.where(audit_log.c[k] == v)
    async with app.state.runtime.session_factory() as s:
        return list((await s.execute(stmt)).all())


async def sql(app, statement: str) -> None:
    async with app.state.runtime.session_factory() as s:
        await s.execute(text(statement))
        await s.commit()


async def test_reads_of_personal_data_are_audited_before_the_answer_with_the_declared_fields(make_gateway):
    async with make_gateway() as (client, app):
        officer = await create_user(app, username="off", roles=["department_officer"], department="QRSJ")
        t = bearer(await login(client, "off"))
        r = await client.get("/api/v1/cases/WH-20261201-0007", headers={**t, "User-Agent": "ua-1"})
        assert r.status_code == 200
        assert not [h for h in r.headers if h.startswith("x-fengqiao-")]  # the declaration stays inside
        (row,) = await audit_rows(app, object_id="WH-20261201-0007")  # already written: no waiting
        assert (row.action, row.method, row.actor_id, row.actor_role, row.department) == (
            "cases.read", "GET", officer["id"], "department_officer", "QRSJ")
        assert (row.fields, row.purpose, row.subjects) == ("name,phone,id_number(masked)", "handling",
                                                          ["WH-20261201-0007"])
        assert (row.ip, row.user_agent, row.status, row.request_id) == (
            "203.0.113.7", "ua-1", 200, r.headers["x-request-id"])
        for path, action in [("/api/v1/cases?status=open", "cases.list"), ("/api/v1/cases/export.csv", "cases.export.csv"),
                             ("/api/v1/attachments/a1", "attachments.read"),
                             ("/api/v1/mediation/M-1/record", "mediation.record")]:
            r = await client.get(path, headers=t)
            assert r.status_code == 200
            assert (await audit_rows(app, request_id=r.headers["x-request-id"]))[0].action == action, path
        # routes without personal data, and the public Open311 feed, are not audited
        for path in ("/api/v1/orders/O-1", "/api/v1/analytics/overview", "/open311/v2/requests.json"):
            r = await client.get(path, headers=t if "open311" not in path else {})
            assert await audit_rows(app, request_id=r.headers["x-request-id"]) == [], path
        # Open311 reads with a key are
        admin = await create_user(app, username="root", roles=[ADMIN])
        a = bearer(await login(client, "root"))
        key = (await client.post("/api/v1/admin/api-keys", headers=a, json={
            "name": "gov", "scope_type": "external_system", "scope": "gd-gov-service"})).json()
        r = await client.get("/open311/v2/requests/77.json", headers={"X-API-Key": key["key"]})
        (row,) = await audit_rows(app, request_id=r.headers["x-request-id"])
        assert (row.action, row.object_id, row.actor_kind, row.actor_role) == (
            "open311.requests.read", "77", "api_key", "external_system")
        assert admin["id"]


async def test_created_object_id_from_the_services_header_or_location(make_gateway):
    async with make_gateway() as (client, app):
        await create_user(app, username="gw", roles=["grid_worker"], grids=["WH-01"])
        t = bearer(await login(client, "gw"))
        for how in ("header", "location"):
            r = await client.post(f"/api/v1/cases?create={how}", headers=t, json={"x": 1})
            assert r.status_code == 201 and "x-fengqiao-object-id" not in r.headers
            (row,) = await audit_rows(app, request_id=r.headers["x-request-id"])
            assert (row.action, row.object_id, row.status) == ("cases.create", r.json()["id"], 201)


async def test_a_database_blip_and_a_restart_lose_no_row(make_gateway, tmp_path):
    suffix, spool = uuid.uuid4().hex[:8], tmp_path / "spool"
    seen = []
    async with make_gateway(suffix, audit_spool_dir=spool) as (client, app):
        await create_user(app, username="off", roles=["department_officer"], department="QRSJ")
        t = bearer(await login(client, "off"))
        await sql(app, "ALTER TABLE audit_log RENAME TO audit_log_away")  # the audit table is unreachable
        for i in range(5):
            r = await client.get(f"/api/v1/cases/WH-2026120{i}-0001", headers=t)
            assert r.status_code == 200  # the row is durable in the spool
            seen.append(r.headers["x-request-id"])
        r = await client.post("/api/v1/orders/O-9/sign", headers=t, json={})
        assert r.status_code == 200
        seen.append(r.headers["x-request-id"])
        assert sum(len(p.read_text().splitlines()) for p in spool.glob("*.jsonl")) == 6
    # the gateway stopped with its rows in the spool; the table comes back; a new process moves them
    async with make_gateway(suffix, audit_spool_dir=spool) as (client, app):
        await sql(app, "ALTER TABLE audit_log_away RENAME TO audit_log")

        async def moved():
            rows = await audit_rows(app)
            return rows if {x.request_id for x in rows} >= set(seen) else None

        rows = await eventually(moved, timeout=15)
        assert sorted(x.request_id for x in rows if x.request_id in seen) == sorted(seen)  # each exactly once
        assert {x.fields for x in rows if x.request_id in seen[:5]} == {"name,phone,id_number(masked)"}
        assert list(spool.glob("*.jsonl")) == []
        # connections cut under the gateway (a database restart): the next reads are still kept
        t = bearer(await login(client, "off"))
        await sql(app, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        ids = []
        for i in range(3):
            r = await client.get(f"/api/v1/cases/WH-2026113{i}-0002", headers=t)
            assert r.status_code == 200
            ids.append(r.headers["x-request-id"])

        async def all_there():
            got = {x.request_id for x in await audit_rows(app)}
            return set(ids) <= got

        assert await eventually(all_there, timeout=15)


async def test_no_durable_audit_row_no_personal_data(make_gateway, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    async with make_gateway(audit_spool_dir=blocker / "spool", audit_wait=0.5) as (client, app):
        await create_user(app, username="off", roles=["department_officer"], department="QRSJ")
        t = bearer(await login(client, "off"))
        await sql(app, "ALTER TABLE audit_log RENAME TO audit_log_away")
        r = await client.get("/api/v1/cases/WH-20261201-0009", headers=t)
        assert r.status_code == 503 and r.json()["error"] == "audit_unavailable" and "Retry-After" in r.headers
        assert "identity" not in r.text  # nothing of the service's answer
        read_id = r.headers["x-request-id"]
        r = await client.post("/api/v1/orders/O-9/sign", headers=t, json={})
        assert r.status_code == 200  # the write has happened: answered; its row stays buffered
        write_id = r.headers["x-request-id"]
        await sql(app, "ALTER TABLE audit_log_away RENAME TO audit_log")

        async def written():
            got = {x.request_id for x in await audit_rows(app)}
            return {read_id, write_id} <= got

        assert await eventually(written, timeout=15)


async def test_dpo_searches_by_resident_user_and_period_and_exports_others_are_refused(make_gateway):
    async with make_gateway() as (client, app):
        await create_user(app, username="root", roles=[ADMIN])
        a = bearer(await login(client, "root"))
        r = await client.post("/api/v1/admin/users", headers=a, json={
            "username": "dpo1", "password": "Passw0rd-123", "display_name": "DPO", "roles": ["dpo"]})
        assert r.status_code == 201, r.text
        dpo_id = r.json()["id"]
        evil = await create_user(app, username="evil", roles=["department_officer"], department="QRSJ",
                                 display_name="=HYPERLINK(\"http://x\",\"y\")")
        gw = await create_user(app, username="gw", roles=["grid_worker"], grids=["WH-01"])
        e, g = bearer(await login(client, "evil")), bearer(await login(client, "gw"))
        await client.get("/api/v1/cases/WH-20261201-0001", headers={**e, "User-Agent": "@ua"})
        await client.get("/api/v1/cases/WH-20261201-0001", headers=g)
        await client.get("/api/v1/cases/WH-20261201-0002", headers=g)
        d = bearer(await login(client, "dpo1"))

        r = await client.get("/api/v1/admin/audit?object_id=WH-20261201-0001&action=cases", headers=d)
        assert r.status_code == 200
        assert sorted(x["actor_id"] for x in r.json()) == sorted([evil["id"], gw["id"]])
        assert {x["fields"] for x in r.json()} == {"name,phone,id_number(masked)"}
        r = await client.get(f"/api/v1/admin/audit?actor_id={gw['id']}&action=cases", headers=d)
        assert [x["object_id"] for x in r.json()] == ["WH-20261201-0002", "WH-20261201-0001"]
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        r = await client.get("/api/v1/admin/audit", params={"since": later}, headers=d)
        assert r.status_code == 200 and r.json() == []
        r = await client.get("/api/v1/admin/audit", params={"until": later, "action": "cases"}, headers=d)
        assert len(r.json()) == 3

        r = await client.get("/api/v1/admin/audit/export.csv?object_id=WH-20261201-0001", headers=d)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
        # the two reads, and the DPO's own searches about this resident (looking at the log is looking too)
        assert sorted(x["action"] for x in rows) == ["admin.audit.export", "admin.audit.search", "cases.read",
                                                     "cases.read"]
        bad = next(x for x in rows if x["actor_id"] == evil["id"])
        assert bad["actor_name"] == "'=HYPERLINK(\"http://x\",\"y\")" and bad["user_agent"] == "'@ua"
        assert bad["ip"] == "203.0.113.7" and bad["purpose"] == "handling" and bad["at"]
        # the searches and the export are in the log too
        r = await client.get(f"/api/v1/admin/audit?actor_id={dpo_id}&action=admin.audit", headers=a)
        assert r.status_code == 200
        assert {x["action"] for x in r.json()} == {"admin.audit.search", "admin.audit.export"}

        for headers in (g, e):
            for path in ("/api/v1/admin/audit", "/api/v1/admin/audit/export.csv"):
                assert (await client.get(path, headers=headers)).status_code == 403, path
        assert (await client.get("/api/v1/admin/audit/export.csv")).status_code == 401
        assert (await client.get("/api/v1/admin/users", headers=d)).status_code == 403  # audit only

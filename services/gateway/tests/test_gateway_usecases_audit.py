"""The audit log on in-memory fakes: filters, paging back, rows of forwarded writes; demo seeding."""

import csv
import io
from datetime import timedelta

import pytest
from fengqiao_common.auth import Principal
from fengqiao_common.errors import Unavailable
from fengqiao_common.jurisdiction import load
from fengqiao_common.settings import ServiceSettings
from fengqiao_gateway.domain import credentials as cred
from fengqiao_gateway.domain.audit import Caller, audit_row
from fengqiao_gateway.usecases import audit, demo
from gateway_fakes import FakeGatewayUoW, FakePasswords

P = Principal(sub="u1", kind="user", name="x", roles=["dispatcher"], department="ZZZX")


async def test_list_audit_filters_and_pages_back():
    uow = FakeGatewayUoW()
    t0 = uow.now()
    for i, action in enumerate(["auth.login", "orders.sign", "orders.resolve", "cases.create"]):
        await uow.audit.add(audit_row(P if i % 2 else None, Caller(), at=t0 + timedelta(minutes=i), action=action,
                                      object_id=f"O-{i}"))
    rows = await audit.list_audit(uow)
    assert [r["action"] for r in rows] == ["cases.create", "orders.resolve", "orders.sign", "auth.login"]
    assert [r["action"] for r in await audit.list_audit(uow, action="orders")] == ["orders.resolve", "orders.sign"]
    assert [r["object_id"] for r in await audit.list_audit(uow, actor_id="u1")] == ["O-3", "O-1"]
    assert [r["object_id"] for r in await audit.list_audit(uow, object_id="O-2")] == ["O-2"]
    since = await audit.list_audit(uow, since=t0 + timedelta(minutes=1), until=t0 + timedelta(minutes=3))
    assert [r["object_id"] for r in since] == ["O-2", "O-1"]
    page = await audit.list_audit(uow, limit=2)
    older = await audit.list_audit(uow, before_id=page[-1]["id"], limit=2)
    assert [r["object_id"] for r in page + older] == ["O-3", "O-2", "O-1", "O-0"]


class Writer:
    def __init__(self, ok: bool = True):
        self.rows, self.ok = [], ok

    async def write(self, row):
        self.rows.append(row)
        return self.ok


async def test_forwarded_write_rows_name_the_action_object_and_caller():
    uow, w = FakeGatewayUoW(), Writer()
    caller = Caller(ip="203.0.113.7", user_agent="ua", request_id="rid")
    assert await audit.record_forwarded(w, uow.clock, P, caller, method="POST", path="/api/v1/orders/O-17/sign",
                                        service="dispatch", status=200)
    await audit.record_forwarded(w, uow.clock, None, caller, method="POST", path="/api/v1/cases", service="intake",
                                 status=201, created_id="C-9")
    a, b = w.rows
    assert (a["action"], a["object_type"], a["object_id"], a["actor_role"], a["at"]) == (
        "orders.sign", "orders", "O-17", "dispatcher", uow.now())
    assert a["detail"] == {"service": "dispatch"} and a["ip"] == "203.0.113.7" and a["request_id"] == "rid"
    assert (b["action"], b["object_id"], b["actor_id"], b["status"]) == ("cases.create", "C-9", None, 201)
    assert a["uid"] != b["uid"]


async def test_forwarded_read_records_the_declared_fields_purpose_and_subjects():
    uow, w = FakeGatewayUoW(), Writer()
    caller = Caller(ip="198.51.100.4", request_id="r2")
    assert await audit.record_forwarded(w, uow.clock, P, caller, method="GET", path="/api/v1/cases/WH-20261201-0007",
                                        service="intake", status=200, fields=" name, phone ,id_number(masked)",
                                        purpose="handling", subjects="WH-20261201-0007, c-uuid-1,bad value")
    await audit.record_forwarded(w, uow.clock, P, caller, method="GET", path="/api/v1/cases", service="intake",
                                 status=200)
    one, many = w.rows
    assert (one["action"], one["object_type"], one["object_id"]) == ("cases.read", "cases", "WH-20261201-0007")
    assert (one["fields"], one["purpose"], one["subjects"]) == (
        "name,phone,id_number(masked)", "handling", ["WH-20261201-0007", "c-uuid-1"])
    assert (many["action"], many["object_id"], many["fields"], many["subjects"]) == ("cases.list", None, None, None)
    # the resident is found by the case named in an answer's subjects as well as by the path's object
    await uow.audit.add(one, many, one)  # the same row twice (moved from the spool again): kept once
    assert [r["request_id"] for r in await audit.list_audit(uow, object_id="c-uuid-1")] == ["r2"]
    assert len(await audit.list_audit(uow)) == 2
    assert not await audit.record_forwarded(Writer(ok=False), uow.clock, P, caller, method="GET", path="/api/v1/cases",
                                            service="intake", status=200)


async def test_searches_are_audited_and_refused_when_they_cannot_be():
    uow, w = FakeGatewayUoW(), Writer()
    q = audit.AuditQuery(object_id="WH-1", since=uow.now())
    await audit.record_search(w, uow.clock, P, Caller(ip="10.0.0.1"), action="admin.audit.export",
                              path="/api/v1/admin/audit/export.csv", q=q)
    (row,) = w.rows
    assert (row["action"], row["object_id"], row["purpose"], row["actor_id"]) == (
        "admin.audit.export", "WH-1", "oversight", "u1")
    assert row["detail"]["object_id"] == "WH-1" and "since" in row["detail"]
    with pytest.raises(Unavailable):
        await audit.record_search(Writer(ok=False), uow.clock, P, Caller(), action="admin.audit.search",
                                  path="/api/v1/admin/audit", q=q)


async def test_csv_export_pages_through_every_row_and_neutralises_formulas(monkeypatch):
    monkeypatch.setattr(audit, "EXPORT_PAGE", 10)
    uow = FakeGatewayUoW()
    t0 = uow.now()
    evil = Principal(sub="u2", kind="user", name="=HYPERLINK(\"http://x\")", roles=["admin"])
    for i in range(25):
        await uow.audit.add(audit_row(evil if i == 0 else P, Caller(user_agent="@ua" if i == 1 else "ua"),
                                      at=t0 + timedelta(seconds=i), action="cases.read", object_id=f"C-{i}",
                                      fields="-phone" if i == 2 else "name"))
    text = "".join([chunk async for chunk in audit.export_csv(lambda: uow, audit.AuditQuery())])
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 25 and rows[0]["object_id"] == "C-24" and rows[-1]["object_id"] == "C-0"
    assert rows[-1]["actor_name"] == "'=HYPERLINK(\"http://x\")"
    assert rows[-2]["user_agent"] == "'@ua" and rows[-3]["fields"] == "'-phone"
    assert all(not v.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for v in r.values())
    only = "".join([c async for c in audit.export_csv(lambda: uow, audit.AuditQuery(object_id="C-7"))])
    assert len(list(csv.DictReader(io.StringIO(only.lstrip("\ufeff"))))) == 1


async def test_demo_seeding_is_idempotent_and_reissues_what_no_longer_verifies():
    j = load(str(ServiceSettings().jurisdiction_file))
    uow, pw = FakeGatewayUoW(), FakePasswords()
    doc = await demo.seed_demo(uow, jurisdiction=j, passwords=pw, previous={})
    roles = {u["role"] for u in doc["users"]}
    assert roles == {"grid_worker", "dispatcher", "department_officer", "mediator", "party", "leader", "admin",
                     "dpo"}
    assert len(uow.store.users) == len(doc["users"]) and len(uow.store.keys) == len(doc["api_keys"])
    again = await demo.seed_demo(uow, jurisdiction=j, passwords=pw, previous=doc)
    assert again == doc and len(uow.store.keys) == len(doc["api_keys"])
    fresh = await demo.seed_demo(uow, jurisdiction=j, passwords=pw, previous={})
    assert [u["username"] for u in fresh["users"]] == [u["username"] for u in doc["users"]]
    assert len(uow.store.users) == len(doc["users"])  # same accounts, new passwords
    old = cred.parse_api_key(doc["api_keys"][0]["key"])
    assert next(k for k in uow.store.keys.values() if k["prefix"] == old)["revoked_at"] is not None
    active = [k for k in uow.store.keys.values() if k["revoked_at"] is None]
    assert len(active) == len(doc["api_keys"])

"""The audit log on in-memory fakes: filters, paging back, rows of forwarded writes; demo seeding."""

from datetime import timedelta

from fengqiao_common.auth import Principal
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
    def __init__(self):
        self.rows = []

    def record(self, row):
        self.rows.append(row)


async def test_forwarded_write_rows_name_the_action_object_and_caller():
    uow, w = FakeGatewayUoW(), Writer()
    caller = Caller(ip="203.0.113.7", user_agent="ua", request_id="rid")
    audit.record_forwarded(w, uow.clock, P, caller, method="POST", path="/api/v1/orders/O-17/sign",
                           service="dispatch", status=200)
    audit.record_forwarded(w, uow.clock, None, caller, method="POST", path="/api/v1/cases", service="intake",
                           status=201, created_id="C-9")
    a, b = w.rows
    assert (a["action"], a["object_type"], a["object_id"], a["actor_role"], a["at"]) == (
        "orders.sign", "orders", "O-17", "dispatcher", uow.now())
    assert a["detail"] == {"service": "dispatch"} and a["ip"] == "203.0.113.7" and a["request_id"] == "rid"
    assert (b["action"], b["object_id"], b["actor_id"], b["status"]) == ("cases.create", "C-9", None, 201)


async def test_demo_seeding_is_idempotent_and_reissues_what_no_longer_verifies():
    j = load(str(ServiceSettings().jurisdiction_file))
    uow, pw = FakeGatewayUoW(), FakePasswords()
    doc = await demo.seed_demo(uow, jurisdiction=j, passwords=pw, previous={})
    roles = {u["role"] for u in doc["users"]}
    assert roles == {"grid_worker", "dispatcher", "department_officer", "mediator", "party", "leader", "admin"}
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

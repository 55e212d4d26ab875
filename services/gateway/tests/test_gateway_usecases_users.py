"""Administration of accounts on in-memory fakes."""

from datetime import timedelta

import pytest
from fengqiao_common.auth import Principal
from fengqiao_common.errors import Conflict, Invalid, NotFound
from fengqiao_gateway.domain.audit import Caller
from fengqiao_gateway.usecases import users
from gateway_fakes import CODES, FakeGatewayUoW, FakePasswords, cache

ADMIN = Principal(sub="admin-1", kind="user", name="root", roles=["admin"])
CALLER = Caller(ip="198.51.100.1")


def officer(**kw) -> dict:
    return {"username": "officer.rss", "password": "Secret-2026", "display_name": "王五",
            "roles": ["department_officer"], "department": "RSS", "grids": [], "mediator_id": None,
            "party_id": None, **kw}


async def test_create_user_hashes_the_password_and_audits():
    uow, pw = FakeGatewayUoW(), FakePasswords()
    out = await users.create_user(uow, ADMIN, officer(), passwords=pw, codes=CODES, caller=CALLER)
    assert out["username"] == "officer.rss" and out["department"] == "RSS" and out["disabled"] is False
    assert "password" not in out and "password_hash" not in out
    stored = uow.store.users[out["id"]]
    assert stored["password_hash"] == "fake$Secret-2026" and stored["created_at"] == uow.now()
    (row,) = uow.store.audit
    assert (row["action"], row["object_id"], row["actor_id"], row["ip"]) == (
        "admin.users.create", out["id"], "admin-1", "198.51.100.1")
    assert row["detail"] == {"username": "officer.rss", "roles": ["department_officer"]}


async def test_create_user_refuses_a_taken_name_and_inconsistent_roles():
    uow, pw = FakeGatewayUoW(), FakePasswords()
    await users.create_user(uow, ADMIN, officer(), passwords=pw, codes=CODES, caller=CALLER)
    with pytest.raises(Conflict) as e:
        await users.create_user(uow, ADMIN, officer(), passwords=pw, codes=CODES, caller=CALLER)
    assert e.value.code == "username_taken" and e.value.fields[0]["field"] == "username"
    with pytest.raises(Invalid) as e:
        await users.create_user(uow, ADMIN, officer(username="gw9", roles=["grid_worker", "wizard"], department=None,
                                                    grids=["WH-99"]), passwords=pw, codes=CODES, caller=CALLER)
    assert {f["field"] for f in e.value.fields} == {"roles", "grids"}
    assert len(uow.store.users) == 1 and len(uow.store.audit) == 1


async def test_update_user_moves_department_and_disabling_revokes_sessions():
    uow, pw, c = FakeGatewayUoW(), FakePasswords(), cache()
    u = await users.create_user(uow, ADMIN, officer(), passwords=pw, codes=CODES, caller=CALLER)
    for sid in ("s1", "s2"):
        await uow.sessions.add({"id": sid, "user_id": u["id"], "refresh_hash": "h", "expires_at": uow.now()})
    c.sessions.put("s1", "cached")
    uow.clock.advance(timedelta(minutes=1))
    out = await users.update_user(uow, ADMIN, u["id"], {"department": "PCS"}, passwords=pw, codes=CODES, cache=c,
                                  caller=CALLER)
    assert out["department"] == "PCS" and out["updated_at"] == uow.now()
    assert all(s["revoked_at"] is None for s in uow.store.sessions.values())
    assert c.sessions.get("s1") is None  # the cache is dropped: the new department applies at once
    out = await users.update_user(uow, ADMIN, u["id"], {"disabled": True}, passwords=pw, codes=CODES, cache=c,
                                  caller=CALLER)
    assert out["disabled"] is True
    assert {s["revoked_reason"] for s in uow.store.sessions.values()} == {"disabled"}
    assert [a["detail"] for a in uow.store.audit if a["action"] == "admin.users.update"] == [
        {"fields": ["department"]}, {"fields": ["disabled"]}]


async def test_update_user_password_reset_and_refusals():
    uow, pw, c = FakeGatewayUoW(), FakePasswords(), cache()
    u = await users.create_user(uow, ADMIN, officer(), passwords=pw, codes=CODES, caller=CALLER)
    await uow.sessions.add({"id": "s1", "user_id": u["id"], "refresh_hash": "h", "expires_at": uow.now()})
    await users.update_user(uow, ADMIN, u["id"], {"password": "Other-2027"}, passwords=pw, codes=CODES, cache=c,
                            caller=CALLER)
    assert uow.store.users[u["id"]]["password_hash"] == "fake$Other-2027"
    assert uow.store.sessions["s1"]["revoked_reason"] == "password_reset"
    assert uow.store.audit[-1]["detail"] == {"fields": ["password"]}
    with pytest.raises(Invalid) as e:  # an officer without a department
        await users.update_user(uow, ADMIN, u["id"], {"department": None}, passwords=pw, codes=CODES, cache=c,
                                caller=CALLER)
    assert e.value.fields[0]["field"] == "department"
    assert uow.store.users[u["id"]]["department"] == "RSS"
    with pytest.raises(NotFound):
        await users.update_user(uow, ADMIN, "00000000-0000-0000-0000-000000000000", {"disabled": True},
                                passwords=pw, codes=CODES, cache=c, caller=CALLER)


async def test_list_and_get_users():
    uow, pw = FakeGatewayUoW(), FakePasswords()
    a = await users.create_user(uow, ADMIN, officer(), passwords=pw, codes=CODES, caller=CALLER)
    await users.create_user(uow, ADMIN, officer(username="grid01", roles=["grid_worker"], department=None,
                                                grids=["WH-01"], display_name="网格员"), passwords=pw, codes=CODES,
                            caller=CALLER)
    assert [u["username"] for u in await users.list_users(uow)] == ["grid01", "officer.rss"]
    assert [u["username"] for u in await users.list_users(uow, role="grid_worker")] == ["grid01"]
    assert [u["username"] for u in await users.list_users(uow, q="OFFICER")] == ["officer.rss"]
    assert [u["username"] for u in await users.list_users(uow, department="RSS")] == ["officer.rss"]
    assert [u["username"] for u in await users.list_users(uow, limit=1, offset=1)] == ["officer.rss"]
    assert (await users.get_user(uow, a["id"]))["username"] == "officer.rss"
    with pytest.raises(NotFound):
        await users.get_user(uow, "nope")

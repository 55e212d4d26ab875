"""Administration of API keys on in-memory fakes."""

import pytest
from fengqiao_common.auth import Principal
from fengqiao_common.errors import Invalid, NotFound
from fengqiao_gateway.domain import credentials as cred
from fengqiao_gateway.domain.audit import Caller
from fengqiao_gateway.usecases import auth, keys
from gateway_fakes import CODES, FakeGatewayUoW, cache

ADMIN = Principal(sub="admin-1", kind="user", name="root", roles=["admin"])


async def test_create_key_stores_only_the_hash_and_can_be_used_at_once():
    uow, c = FakeGatewayUoW(), cache()
    out = await keys.create_key(uow, ADMIN, {"name": "RSS system", "scope_type": "department", "scope": "RSS",
                                             "rate_limit_per_minute": 50}, codes=CODES, cache=c, caller=Caller())
    stored = uow.store.keys[out["id"]]
    assert stored["key_hash"] == cred.sha256(out["key"]) and out["key"] not in stored.values()
    assert out["active"] is True and out["prefix"] == cred.parse_api_key(out["key"]) and out["created_by"] == "admin-1"
    assert uow.store.audit[-1]["action"] == "admin.api_keys.create"
    scope, limit = await auth.authenticate_key(uow, out["key"], cache=c)
    assert (scope.principal().department, limit) == ("RSS", 50)


async def test_create_key_refuses_unknown_scopes():
    uow = FakeGatewayUoW()
    for scope_type, scope in (("department", "NOPE"), ("external_system", "nope")):
        with pytest.raises(Invalid) as e:
            await keys.create_key(uow, ADMIN, {"name": "x", "scope_type": scope_type, "scope": scope,
                                               "rate_limit_per_minute": None}, codes=CODES, cache=cache(),
                                  caller=Caller())
        assert e.value.fields[0]["field"] == "scope"
    assert uow.store.keys == {} and uow.store.audit == []


async def test_revoke_key_is_idempotent_and_drops_the_cache():
    uow, c = FakeGatewayUoW(), cache()
    k = await keys.create_key(uow, ADMIN, {"name": "ext", "scope_type": "external_system", "scope": "yue-sheng-shi",
                                           "rate_limit_per_minute": None}, codes=CODES, cache=c, caller=Caller())
    await auth.authenticate_key(uow, k["key"], cache=c)
    out = await keys.revoke_key(uow, ADMIN, k["id"], cache=c, caller=Caller())
    assert out["active"] is False and out["revoked_at"] == uow.now()
    with pytest.raises(Exception, match="revoked"):
        await auth.authenticate_key(uow, k["key"], cache=c)
    again = await keys.revoke_key(uow, ADMIN, k["id"], cache=c, caller=Caller())
    assert again["revoked_at"] == out["revoked_at"]
    assert [a["action"] for a in uow.store.audit].count("admin.api_keys.revoke") == 1
    with pytest.raises(NotFound):
        await keys.revoke_key(uow, ADMIN, "missing", cache=c, caller=Caller())


async def test_list_keys_hides_revoked_unless_asked():
    uow, c = FakeGatewayUoW(), cache()
    a = await keys.create_key(uow, ADMIN, {"name": "a", "scope_type": "department", "scope": "RSS",
                                           "rate_limit_per_minute": None}, codes=CODES, cache=c, caller=Caller())
    b = await keys.create_key(uow, ADMIN, {"name": "b", "scope_type": "department", "scope": "PCS",
                                           "rate_limit_per_minute": None}, codes=CODES, cache=c, caller=Caller())
    await keys.revoke_key(uow, ADMIN, a["id"], cache=c, caller=Caller())
    assert [k["id"] for k in await keys.list_keys(uow)] == [b["id"]]
    listed = await keys.list_keys(uow, include_revoked=True)
    assert {k["id"] for k in listed} == {a["id"], b["id"]} and all("key" not in k for k in listed)

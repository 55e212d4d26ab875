"""Authentication use cases on in-memory fakes: login, refresh rotation and reuse, logout, tokens, API keys."""

from datetime import timedelta

import pytest
from fengqiao_common.auth import Principal
from fengqiao_common.errors import Unauthenticated
from fengqiao_gateway.domain import credentials as cred
from fengqiao_gateway.domain.audit import Caller
from fengqiao_gateway.usecases import auth
from gateway_fakes import FakeGatewayUoW, FakePasswords, cache

POLICY = auth.TokenPolicy(secret="s" * 40, access_ttl=900, refresh_ttl=3600, refresh_reuse_grace=30.0)
CALLER = Caller(ip="203.0.113.9", user_agent="pytest", request_id="r1")


async def _user(uow: FakeGatewayUoW, username="grid01", password="Passw0rd-1", **extra) -> dict:
    now = uow.now()
    row = {"id": f"00000000-0000-0000-0000-{len(uow.store.users) + 1:012d}", "username": username,
           "password_hash": f"fake${password}", "roles": ["grid_worker"], "grids": ["WH-01"],
           "display_name": username, "created_at": now, "updated_at": now, **extra}
    await uow.users.add(row)
    return row


async def test_login_creates_a_session_and_audits():
    uow = FakeGatewayUoW()
    user = await _user(uow)
    out = await auth.login(uow, auth.Login("grid01", "Passw0rd-1"), passwords=FakePasswords(), policy=POLICY,
                           caller=CALLER)
    assert out["user"]["username"] == "grid01" and out["user"]["grids"] == ["WH-01"]
    assert out["token_type"] == "bearer" and out["expires_in"] == 900 and out["refresh_expires_in"] == 3600
    claims = cred.verify_access_token(out["access_token"], secret=POLICY.secret, now=int(uow.now().timestamp()))
    assert claims.user_id == user["id"]
    (session,) = uow.store.sessions.values()
    assert session["id"] == claims.session_id and session["ip"] == "203.0.113.9"
    assert session["expires_at"] == uow.now() + timedelta(seconds=3600)
    assert session["refresh_hash"] == cred.sha256(out["refresh_token"])
    assert [a["action"] for a in uow.store.audit] == ["auth.login"]
    assert uow.store.audit[0]["actor_id"] == user["id"] and uow.committed_events == []


@pytest.mark.parametrize(("username", "password", "disabled"), [
    ("grid01", "wrong-pass1", False), ("nobody", "Passw0rd-1", False), ("grid01", "Passw0rd-1", True)])
async def test_login_refused_is_audited_without_a_session(username, password, disabled):
    uow = FakeGatewayUoW()
    await _user(uow, disabled=disabled)
    with pytest.raises(Unauthenticated) as e:
        await auth.login(uow, auth.Login(username, password), passwords=FakePasswords(), policy=POLICY, caller=CALLER)
    assert e.value.zh == "用户名或密码错误"
    assert uow.store.sessions == {}
    assert [(a["action"], a["object_id"], a["status"]) for a in uow.store.audit] == [
        ("auth.login_failed", username, 401)]


async def _logged_in(uow):
    await _user(uow)
    return await auth.login(uow, auth.Login("grid01", "Passw0rd-1"), passwords=FakePasswords(), policy=POLICY,
                            caller=CALLER)


async def test_refresh_rotates_and_a_quick_second_use_is_only_refused():
    uow, c = FakeGatewayUoW(), cache()
    first = await _logged_in(uow)
    new = await auth.refresh(uow, first["refresh_token"], cache=c, policy=POLICY)
    assert new["refresh_token"] != first["refresh_token"] and new["user"]["username"] == "grid01"
    (session,) = uow.store.sessions.values()
    assert session["refresh_hash"] == cred.sha256(new["refresh_token"])
    assert session["previous_refresh_hash"] == cred.sha256(first["refresh_token"])
    uow.clock.advance(timedelta(seconds=10))
    with pytest.raises(Unauthenticated, match="already rotated"):
        await auth.refresh(uow, first["refresh_token"], cache=c, policy=POLICY)
    assert session["revoked_at"] is None
    assert (await auth.refresh(uow, new["refresh_token"], cache=c, policy=POLICY))["access_token"]


async def test_refresh_token_reused_later_ends_the_session():
    uow, c = FakeGatewayUoW(), cache()
    first = await _logged_in(uow)
    new = await auth.refresh(uow, first["refresh_token"], cache=c, policy=POLICY)
    uow.clock.advance(timedelta(minutes=5))
    c.sessions.put(next(iter(uow.store.sessions)), "cached")
    with pytest.raises(Unauthenticated, match="session revoked"):
        await auth.refresh(uow, first["refresh_token"], cache=c, policy=POLICY)
    (session,) = uow.store.sessions.values()
    assert session["revoked_reason"] == "refresh_token_reused" and session["revoked_at"] == uow.now()
    assert c.sessions.get(session["id"]) is None
    with pytest.raises(Unauthenticated, match="revoked or expired"):
        await auth.refresh(uow, new["refresh_token"], cache=c, policy=POLICY)


async def test_refresh_refuses_malformed_and_expired_tokens():
    uow, c = FakeGatewayUoW(), cache()
    with pytest.raises(Unauthenticated, match="malformed"):
        await auth.refresh(uow, "fqr_not-a-uuid.x", cache=c, policy=POLICY)
    first = await _logged_in(uow)
    uow.clock.advance(timedelta(seconds=3601))
    with pytest.raises(Unauthenticated, match="revoked or expired"):
        await auth.refresh(uow, first["refresh_token"], cache=c, policy=POLICY)


async def test_access_token_authenticates_until_logout():
    uow, c = FakeGatewayUoW(), cache()
    tokens = await _logged_in(uow)
    account, sid = await auth.authenticate_access(uow, tokens["access_token"], cache=c, secret=POLICY.secret)
    assert account.username == "grid01" and sid in uow.store.sessions
    principal = account.principal()
    await auth.logout(uow, principal, sid, cache=c, caller=CALLER)
    assert uow.store.sessions[sid]["revoked_reason"] == "logout"
    assert uow.store.audit[-1]["action"] == "auth.logout" and uow.store.audit[-1]["object_id"] == sid
    with pytest.raises(Unauthenticated, match="session revoked"):
        await auth.authenticate_access(uow, tokens["access_token"], cache=c, secret=POLICY.secret)


async def test_access_token_forged_expired_or_of_another_user_refused():
    uow, c = FakeGatewayUoW(), cache()
    tokens = await _logged_in(uow)
    now = int(uow.now().timestamp())
    sid = cred.verify_access_token(tokens["access_token"], secret=POLICY.secret, now=now).session_id
    for token in (cred.mint_access_token(user_id="u", session_id=sid, secret="f" * 40, now=now, ttl=60),
                  "garbage"):
        with pytest.raises(Unauthenticated, match="invalid access token"):
            await auth.authenticate_access(uow, token, cache=c, secret=POLICY.secret)
    other = cred.mint_access_token(user_id="someone-else", session_id=sid, secret=POLICY.secret, now=now, ttl=60)
    with pytest.raises(Unauthenticated, match="unknown session"):
        await auth.authenticate_access(uow, other, cache=c, secret=POLICY.secret)
    await auth.authenticate_access(uow, tokens["access_token"], cache=c, secret=POLICY.secret)  # now cached
    uow.clock.advance(timedelta(seconds=901))
    with pytest.raises(Unauthenticated, match="expired"):
        await auth.authenticate_access(uow, tokens["access_token"], cache=c, secret=POLICY.secret)


async def test_api_key_authenticates_by_hash_and_unknown_prefixes_are_cached():
    uow, c = FakeGatewayUoW(), cache()
    key, prefix, digest = cred.new_api_key()
    await uow.keys.add({"id": "k1", "name": "粤省事", "prefix": prefix, "key_hash": digest,
                        "scope_type": "external_system", "scope": "yue-sheng-shi", "created_at": uow.now(),
                        "rate_limit_per_minute": 50})
    scope, limit = await auth.authenticate_key(uow, key, cache=c)
    assert (scope.id, scope.scope, limit) == ("k1", "yue-sheng-shi", 50)
    assert scope.principal().external_system == "yue-sheng-shi"
    with pytest.raises(Unauthenticated, match="unknown API key"):
        await auth.authenticate_key(uow, key[:-4] + "AAAA", cache=c)
    with pytest.raises(Unauthenticated, match="malformed"):
        await auth.authenticate_key(uow, "hello", cache=c)
    unknown = "fqk_00000000_" + "x" * 43
    with pytest.raises(Unauthenticated, match="unknown API key"):
        await auth.authenticate_key(uow, unknown, cache=c)
    assert c.keys.get("00000000") == auth.UNKNOWN_KEY
    uow.store.keys["k1"]["revoked_at"] = uow.now()
    c.keys.drop(prefix)
    with pytest.raises(Unauthenticated, match="revoked"):
        await auth.authenticate_key(uow, key, cache=c)


async def test_logout_of_a_principal_only_touches_its_session():
    uow, c = FakeGatewayUoW(), cache()
    await _logged_in(uow)
    await auth.logout(uow, Principal(sub="x", roles=["admin"]), "00000000-0000-0000-0000-00000000dead", cache=c,
                      caller=CALLER)
    assert all(s["revoked_at"] is None for s in uow.store.sessions.values())
    assert uow.commits == 2  # the login, the logout (reads commit nothing)

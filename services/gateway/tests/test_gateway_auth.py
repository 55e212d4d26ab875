"""Staff authentication, API keys and administration against the real database."""

import time
from datetime import timedelta

from conftest import bearer, create_user, login
from fengqiao_devstack.testing import eventually
from fengqiao_gateway.domain import credentials


async def test_login_me_refresh_rotation_and_logout(make_gateway):
    async with make_gateway() as (client, app):
        await create_user(app, username="grid01", roles=["grid_worker"], grids=["WH-01", "WH-02"])
        r = await client.post("/api/v1/auth/login", json={"username": "grid01", "password": "wrong-pass1"})
        assert r.status_code == 401 and r.json()["message_zh"] == "用户名或密码错误"
        r = await client.post("/api/v1/auth/login", json={"username": "nobody", "password": "wrong-pass1"})
        assert r.status_code == 401
        r = await client.post("/api/v1/auth/login", json={"username": "", "password": ""})
        assert r.status_code == 422 and {f["field"] for f in r.json()["fields"]} == {"username", "password"}

        tokens = await login(client, "grid01")
        assert tokens["user"]["grids"] == ["WH-01", "WH-02"]
        me = (await client.get("/api/v1/auth/me", headers=bearer(tokens))).json()
        assert me["username"] == "grid01" and me["roles"] == ["grid_worker"]

        # refresh rotates: the new pair works, the old refresh token is spent
        r = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 200, r.text
        new = r.json()
        assert new["refresh_token"] != tokens["refresh_token"]
        assert (await client.get("/api/v1/auth/me", headers=bearer(new))).status_code == 200
        # the spent token presented again right away (a concurrent refresh): refused, the session lives on
        r = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 401 and "already rotated" in r.json()["message_en"]
        assert (await client.get("/api/v1/auth/me", headers=bearer(new))).status_code == 200
        # later (past the grace period) it is a replay of a stolen copy: the whole session ends
        from fengqiao_gateway.adapters.orm import sessions as sessions_t
        from sqlalchemy import update
        async with app.state.runtime.session_factory() as s, s.begin():
            await s.execute(update(sessions_t).values(refreshed_at=sessions_t.c.refreshed_at - timedelta(minutes=5)))
        r = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 401 and "session revoked" in r.json()["message_en"]
        assert (await client.get("/api/v1/auth/me", headers=bearer(new))).status_code == 401
        r = await client.post("/api/v1/auth/refresh", json={"refresh_token": new["refresh_token"]})
        assert r.status_code == 401

        # logout revokes the access token at once and its refresh token
        t2 = await login(client, "grid01")
        assert (await client.post("/api/v1/auth/logout", headers=bearer(t2))).status_code == 204
        assert (await client.get("/api/v1/auth/me", headers=bearer(t2))).status_code == 401
        assert (await client.get("/api/v1/cases", headers=bearer(t2))).status_code == 401
        r = await client.post("/api/v1/auth/refresh", json={"refresh_token": t2["refresh_token"]})
        assert r.status_code == 401


async def test_forged_expired_and_malformed_tokens_refused(make_gateway):
    async with make_gateway() as (client, app):
        user = await create_user(app, username="disp", roles=["dispatcher"], department="ZZZX")
        tokens = await login(client, "disp")
        sid = credentials.verify_access_token(tokens["access_token"], secret=app.state.runtime.settings.token_secret,
                                              now=int(time.time())).session_id
        forged = credentials.mint_access_token(user_id=user["id"], session_id=sid, secret="f" * 48,
                                               now=int(time.time()), ttl=600)
        expired = credentials.mint_access_token(user_id=user["id"], session_id=sid,
                                                secret=app.state.runtime.settings.token_secret,
                                                now=int(time.time()) - 3600, ttl=600)
        wrong_user = credentials.mint_access_token(user_id="00000000-0000-0000-0000-000000000000", session_id=sid,
                                                   secret=app.state.runtime.settings.token_secret,
                                                   now=int(time.time()), ttl=600)
        for token in (forged, expired, wrong_user, "garbage", tokens["refresh_token"]):
            r = await client.get("/api/v1/orders", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401, token
            assert r.json()["error"] == "unauthenticated" and r.json()["message_zh"]
        r = await client.get("/api/v1/orders", headers={"Authorization": "Basic abc"})
        assert r.status_code == 401
        # a caller-supplied internal identity header is never passed on
        from fengqiao_devstack.testing import identity_headers

        r = await client.get("/api/v1/orders", headers=identity_headers(roles=["admin"]))
        assert r.status_code == 200 and r.json()["identity"] is None


async def test_api_keys_scoped_hashed_revocable(make_gateway):
    async with make_gateway() as (client, app):
        await create_user(app, username="root", roles=["admin"])
        await create_user(app, username="lead", roles=["leader"])
        admin = bearer(await login(client, "root"))
        r = await client.post("/api/v1/admin/api-keys", headers=admin,
                              json={"name": "粤省事", "scope_type": "external_system", "scope": "yue-sheng-shi"})
        assert r.status_code == 201, r.text
        ext = r.json()
        r = await client.post("/api/v1/admin/api-keys", headers=admin,
                              json={"name": "RSS system", "scope_type": "department", "scope": "RSS",
                                    "rate_limit_per_minute": 50})
        dept = r.json()
        r = await client.post("/api/v1/admin/api-keys", headers=admin,
                              json={"name": "x", "scope_type": "department", "scope": "NOPE"})
        assert r.status_code == 422 and r.json()["fields"][0]["field"] == "scope"

        # only the hash is stored
        from fengqiao_gateway.adapters.orm import api_keys
        from sqlalchemy import select
        async with app.state.runtime.session_factory() as s:
            stored = (await s.execute(select(api_keys.c.key_hash).where(api_keys.c.id == ext["id"]))).scalar()
        assert stored == credentials.sha256(ext["key"]) and ext["key"] not in stored

        r = await client.get("/api/v1/cases", headers={"X-API-Key": ext["key"]})
        ident = r.json()["identity"]
        assert (ident["kind"], ident["roles"], ident["external_system"]) == ("api_key", ["external_system"],
                                                                              "yue-sheng-shi")
        assert r.json()["api_key_header"] is None  # the key itself never reaches the service
        r = await client.get("/api/v1/orders", headers={"X-API-Key": dept["key"]})
        ident = r.json()["identity"]
        assert (ident["roles"], ident["department"]) == (["department_system"], "RSS")
        assert r.headers["x-ratelimit-limit"] == "50"

        # wrong secret with a real prefix, unknown key, malformed key
        tampered = ext["key"][:-4] + ("AAAA" if not ext["key"].endswith("AAAA") else "BBBB")
        for key in (tampered, "fqk_00000000_" + "x" * 43, "hello"):
            assert (await client.get("/api/v1/cases", headers={"X-API-Key": key})).status_code == 401

        # non-admins may not manage keys
        lead = bearer(await login(client, "lead"))
        assert (await client.get("/api/v1/admin/api-keys", headers=lead)).status_code == 403
        assert (await client.delete(f"/api/v1/admin/api-keys/{ext['id']}", headers=lead)).status_code == 403

        r = await client.delete(f"/api/v1/admin/api-keys/{ext['id']}", headers=admin)
        assert r.status_code == 200 and r.json()["active"] is False
        r = await client.get("/api/v1/cases", headers={"X-API-Key": ext["key"]})
        assert r.status_code == 401 and "revoked" in r.json()["message_en"]
        listed = (await client.get("/api/v1/admin/api-keys", headers=admin)).json()
        assert [k["id"] for k in listed] == [dept["id"]]
        assert all("key" not in k for k in listed)


async def test_admin_users_and_audit_log(make_gateway):
    async with make_gateway() as (client, app):
        await create_user(app, username="root", roles=["admin"])
        admin = bearer(await login(client, "root"))
        r = await client.post("/api/v1/admin/users", headers=admin, json={
            "username": "officer.rss", "password": "Secret-2026", "roles": ["department_officer"],
            "department": "RSS", "display_name": "人社所 王五"})
        assert r.status_code == 201, r.text
        uid = r.json()["id"]
        r = await client.post("/api/v1/admin/users", headers=admin, json={
            "username": "officer.rss", "password": "Secret-2026", "roles": ["department_officer"],
            "department": "RSS"})
        assert r.status_code == 409
        r = await client.post("/api/v1/admin/users", headers=admin, json={
            "username": "x y", "password": "short", "roles": ["wizard"], "grids": ["WH-99"]})
        assert r.status_code == 422
        assert {f["field"] for f in r.json()["fields"]} == {"username", "password"}
        r = await client.post("/api/v1/admin/users", headers=admin, json={
            "username": "gw9", "password": "Secret-2026", "roles": ["grid_worker", "wizard"], "grids": ["WH-99"]})
        assert r.status_code == 422 and {f["field"] for f in r.json()["fields"]} == {"roles", "grids"}

        from fengqiao_gateway.adapters.orm import users as users_t
        from sqlalchemy import select
        async with app.state.runtime.session_factory() as s:
            stored = (await s.execute(select(users_t.c.password_hash).where(users_t.c.id == uid))).scalar()
        assert stored.startswith("$argon2id$") and "Secret-2026" not in stored

        officer = await login(client, "officer.rss", "Secret-2026")
        r = await client.post("/api/v1/orders/O-1/sign", headers=bearer(officer), json={})
        assert r.json()["identity"]["department"] == "RSS"
        assert (await client.get("/api/v1/admin/users", headers=bearer(officer))).status_code == 403

        # moving the officer to another department applies to the next request; disabling ends sessions
        r = await client.patch(f"/api/v1/admin/users/{uid}", headers=admin, json={"department": "PCS"})
        assert r.status_code == 200 and r.json()["department"] == "PCS"
        r = await client.get("/api/v1/orders", headers=bearer(officer))
        assert r.json()["identity"]["department"] == "PCS"
        r = await client.patch(f"/api/v1/admin/users/{uid}", headers=admin, json={"disabled": True})
        assert r.json()["disabled"] is True
        assert (await client.get("/api/v1/orders", headers=bearer(officer))).status_code == 401
        r = await client.post("/api/v1/auth/login", json={"username": "officer.rss", "password": "Secret-2026"})
        assert r.status_code == 401
        assert (await client.get("/api/v1/admin/users/not-a-uuid", headers=admin)).status_code == 404

        users = (await client.get("/api/v1/admin/users?q=officer", headers=admin)).json()
        assert [u["username"] for u in users] == ["officer.rss"]

        async def audited():
            r = await client.get("/api/v1/admin/audit?limit=50", headers=admin)
            rows = r.json()
            return rows if any(a["action"] == "orders.sign" for a in rows) else None

        rows = await eventually(audited, timeout=10)
        sign = next(a for a in rows if a["action"] == "orders.sign")
        assert (sign["object_type"], sign["object_id"], sign["actor_id"], sign["ip"]) == (
            "orders", "O-1", uid, "203.0.113.7")
        assert sign["request_id"] and sign["status"] == 200
        actions = {a["action"] for a in rows}
        assert {"auth.login", "admin.users.create", "admin.users.update", "auth.login_failed"} <= actions
        only = (await client.get(f"/api/v1/admin/audit?object_id={uid}", headers=admin)).json()
        assert only and all(a["object_id"] == uid for a in only)

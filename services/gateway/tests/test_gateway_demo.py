"""Demo accounts and keys (demo_data=true, as make run sets): seeded idempotently, written as JSON."""

import json
import uuid

from conftest import bearer


async def test_demo_credentials_seeded_idempotently(make_gateway, tmp_path):
    suffix = uuid.uuid4().hex[:8]
    path = tmp_path / "creds" / "demo-credentials.json"
    async with make_gateway(suffix=suffix, demo_data=True, demo_credentials_file=path) as (client, _app):
        doc = json.loads(path.read_text(encoding="utf-8"))
        roles = {u["role"] for u in doc["users"]}
        assert roles == {"grid_worker", "dispatcher", "department_officer", "mediator", "party", "leader", "admin",
                         "dpo"}
        depts = {u.get("department") for u in doc["users"] if u["role"] == "department_officer"}
        assert {"RSS", "QFY", "PCS"} <= depts
        assert next(u for u in doc["users"] if u["role"] == "mediator")["mediator_id"] == "M001"
        scopes = {(k["scope_type"], k["scope"]) for k in doc["api_keys"]}
        assert {("external_system", "yue-sheng-shi"), ("external_system", "yue-shang-tong"),
                ("external_system", "gd-gov-service"), ("department", "RSS")} <= scopes
        for u in doc["users"]:
            r = await client.post("/api/v1/auth/login", json={"username": u["username"], "password": u["password"]})
            assert r.status_code == 200, u
        grid = next(u for u in doc["users"] if u["role"] == "grid_worker")
        r = await client.post("/api/v1/auth/login", json={"username": grid["username"], "password": grid["password"]})
        assert r.json()["user"]["grids"] == grid["grids"] and grid["grids"]
        key = next(k for k in doc["api_keys"] if k["scope"] == "QFY")
        r = await client.get("/api/v1/orders", headers={"X-API-Key": key["key"]})
        assert r.json()["identity"]["department"] == "QFY"
        admin = next(u for u in doc["users"] if u["role"] == "admin")
        t = (await client.post("/api/v1/auth/login", json={"username": "admin", "password": admin["password"]})).json()
        n_users = len((await client.get("/api/v1/admin/users", headers=bearer(t))).json())
        n_keys = len((await client.get("/api/v1/admin/api-keys", headers=bearer(t))).json())
    # a restart keeps the same credentials and creates nothing twice
    async with make_gateway(suffix=suffix, demo_data=True, demo_credentials_file=path) as (client, _app):
        again = json.loads(path.read_text(encoding="utf-8"))
        assert again == doc
        t = (await client.post("/api/v1/auth/login", json={"username": "admin", "password": admin["password"]})).json()
        assert len((await client.get("/api/v1/admin/users", headers=bearer(t))).json()) == n_users
        assert len((await client.get("/api/v1/admin/api-keys", headers=bearer(t))).json()) == n_keys
    # a lost file: the same accounts get new passwords and keys (old keys revoked), still nothing twice
    path.unlink()
    async with make_gateway(suffix=suffix, demo_data=True, demo_credentials_file=path) as (client, _app):
        fresh = json.loads(path.read_text(encoding="utf-8"))
        assert [u["username"] for u in fresh["users"]] == [u["username"] for u in doc["users"]]
        old_key = doc["api_keys"][0]["key"]
        assert (await client.get("/api/v1/orders", headers={"X-API-Key": old_key})).status_code == 401
        new_admin = next(u for u in fresh["users"] if u["role"] == "admin")
        t = (await client.post("/api/v1/auth/login", json={"username": "admin",
                                                             "password": new_admin["password"]})).json()
        assert len((await client.get("/api/v1/admin/users", headers=bearer(t))).json()) == n_users
        assert len((await client.get("/api/v1/admin/api-keys", headers=bearer(t))).json()) == n_keys

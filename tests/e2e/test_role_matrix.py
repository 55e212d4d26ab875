"""Role x endpoint matrix over the whole running system, through the gateway: every sensitive endpoint,
allowed and forbidden; object-level rules (one department reading another's order gets 404, a grid
worker cannot see another grid's case); forged, revoked and logged-out credentials refused."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fengqiao_devstack.testing import eventually, identity_headers

ALL = ("anon", "grid", "grid2", "dispatcher", "rss", "qfy", "mediator", "party", "leader", "admin",
       "ext_key", "dept_key")
STAFF_USERS = {"grid": "grid01", "grid2": "grid02", "dispatcher": "dispatcher", "rss": "officer.rss",
               "qfy": "officer.qfy", "mediator": "mediator", "party": "party", "leader": "leader", "admin": "admin"}
OFFICERS = ("rss", "qfy")
DEPTS = (*OFFICERS, "dept_key")

# (method, path, JSON body, callers allowed through authorization). Bodies are deliberately incomplete:
# an allowed caller gets past authorization (2xx, 404 for a missing object or 422 for the body), a
# forbidden one is stopped with 403 (401 without credentials) before the body is even looked at.
MATRIX = [
    ("POST", "/api/v1/cases/grid-events", {}, {"grid", "grid2", "dispatcher", "admin"}),
    ("POST", "/api/v1/cases/petitions", {}, {"dispatcher", "admin"}),
    ("POST", "/api/v1/cases/demands", {}, {"ext_key", "admin"}),
    ("POST", "/api/v1/cases/NO-SUCH-CASE/regrade", {}, {"dispatcher", "admin"}),
    ("POST", "/api/v1/cases/NO-SUCH-CASE/merge", {}, {"dispatcher", "admin"}),
    ("POST", "/api/v1/cases/NO-SUCH-CASE/rating", {}, {"dispatcher", "ext_key", "admin"}),
    ("POST", "/api/v1/weak-signal-reports", {}, {"grid", "grid2", "admin"}),
    ("GET", "/api/v1/weak-signal-reports", None, {"grid", "grid2", "dispatcher", "leader", "admin"}),
    ("GET", "/api/v1/webhooks", None, {"ext_key", "admin"}),
    ("GET", "/api/v1/dispatch/queue", None, {"dispatcher", "admin"}),
    ("POST", "/api/v1/dispatch/cases/NO-SUCH-CASE/orders", {"lead": 7}, {"dispatcher", "admin"}),
    ("GET", "/api/v1/dispatch/escalations", None, {"dispatcher", "leader", "admin"}),
    ("GET", "/api/v1/dispatch/overdue", None, {"dispatcher", "leader", "admin", *DEPTS}),
    ("GET", "/api/v1/dispatch/rules", None, {"dispatcher", "leader", "admin"}),
    ("POST", "/api/v1/dispatch/rules", {}, {"admin"}),
    ("GET", "/api/v1/orders", None, {"dispatcher", "leader", "admin", *DEPTS}),
    ("POST", "/api/v1/orders/NO-SUCH-ORDER/sign-for", {"officer": 7}, {"admin", *DEPTS}),
    ("POST", "/api/v1/orders/NO-SUCH-ORDER/check-in", {}, {"admin", *DEPTS}),
    ("POST", "/api/v1/orders/NO-SUCH-ORDER/resolve", {}, {"admin", *DEPTS}),
    ("POST", "/api/v1/orders/NO-SUCH-ORDER/return", {}, {"admin", *DEPTS}),
    ("POST", "/api/v1/orders/NO-SUCH-ORDER/verify", {"accepted": "x"}, {"dispatcher", "admin"}),
    ("GET", "/api/v1/analytics/summary", None, {"leader", "dispatcher", "admin"}),
    ("GET", "/api/v1/analytics/departments", None, {"leader", "dispatcher", "admin"}),
    ("GET", "/api/v1/mediation/mediators", None, {"dispatcher", "mediator", "ext_key", "leader", "admin"}),
    ("POST", "/api/v1/mediation/mediators", {}, {"admin"}),
    ("GET", "/api/v1/admin/users", None, {"admin"}),
    ("POST", "/api/v1/admin/api-keys", {}, {"admin"}),
    ("GET", "/api/v1/admin/audit", None, {"admin"}),
]


@pytest.fixture(scope="module")
async def world(stack):
    creds = stack.credentials()
    pw = {u["username"]: u["password"] for u in creds["users"]}
    keys = {k["name"]: k["key"] for k in creds["api_keys"]}
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as c:
        headers: dict[str, dict[str, str]] = {"anon": {}}
        for role, username in STAFF_USERS.items():
            r = await c.post("/api/v1/auth/login", json={"username": username, "password": pw[username]})
            assert r.status_code == 200, r.text
            headers[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        headers["ext_key"] = {"X-API-Key": keys["demo:yue-sheng-shi"]}
        headers["dept_key"] = {"X-API-Key": keys["demo:dept:RSS"]}
        yield c, headers, creds


def _expected_refusal(caller: str, path: str) -> int:
    if caller == "anon":
        return 401
    if caller.endswith("_key") and path.startswith("/api/v1/admin"):
        return 401  # the gateway's own administration takes staff tokens only
    return 403


@pytest.mark.parametrize(("method", "path", "body", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
async def test_role_endpoint_matrix(world, method, path, body, allowed):
    client, headers, _ = world
    wrong = []
    for caller in ALL:
        r = await client.request(method, path, headers=headers[caller], json=body)
        if caller in allowed:
            ok = r.status_code not in (401, 403) and r.status_code < 500
        else:
            ok = r.status_code == _expected_refusal(caller, path)
        if not ok:
            wrong.append((caller, r.status_code, r.text[:160]))
    assert not wrong, wrong


async def test_object_level_rules_on_a_real_case(world):
    client, h, creds = world
    grid01 = next(u for u in creds["users"] if u["username"] == "grid01")
    marker = uuid.uuid4().hex[:8]
    r = await client.post("/api/v1/cases/grid-events", headers=h["grid"], json={
        "category": "labour", "grid": grid01["grids"][0], "description": f"工厂门口工资纠纷 {marker}",
        "people_involved": 3, "location": {"address": "外海大道 1 号"}})
    assert r.status_code == 201, r.text
    case = r.json()
    # the reporter and the centre see it; a grid worker of other grids does not (404, no existence leak)
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=h["grid"])).status_code == 200
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=h["dispatcher"])).status_code == 200
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=h["grid2"])).status_code == 404
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=h["party"])).status_code == 404

    async def routed():
        r = await client.get(f"/api/v1/orders?case_id={case['id']}", headers=h["dispatcher"])
        return r.json() if r.status_code == 200 and r.json() else None

    orders = await eventually(routed, timeout=60, interval=0.5)
    rss = next(o for o in orders if o["department"] == "RSS")
    oid = rss["order_id"]
    assert (await client.get(f"/api/v1/orders/{oid}", headers=h["rss"])).status_code == 200
    assert (await client.get(f"/api/v1/orders/{oid}", headers=h["dept_key"])).status_code == 200
    # another department: the order does not exist for it, neither to read nor to act on
    r = await client.get(f"/api/v1/orders/{oid}", headers=h["qfy"])
    assert r.status_code == 404, r.text
    assert (await client.post(f"/api/v1/orders/{oid}/sign-for", headers=h["qfy"], json={})).status_code == 404
    inbox = (await client.get("/api/v1/orders?limit=500", headers=h["qfy"])).json()
    assert all(o["department"] == "QFY" for o in inbox) and oid not in {o["order_id"] for o in inbox}
    assert oid in {o["order_id"] for o in (await client.get("/api/v1/orders?limit=500", headers=h["rss"])).json()}
    # the right department may act
    r = await client.post(f"/api/v1/orders/{oid}/sign-for", headers=h["rss"], json={})
    assert r.status_code == 200, r.text


async def test_forged_revoked_and_logged_out_credentials_refused(world):
    client, h, creds = world
    # a forged staff token, and an internal identity header sent from outside (stripped by the gateway)
    assert (await client.get("/api/v1/orders", headers={"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"})
            ).status_code == 401
    r = await client.get("/api/v1/orders", headers=identity_headers(roles=["admin"], sub="intruder"))
    assert r.status_code == 401
    r = await client.get("/api/v1/admin/users", headers=identity_headers(roles=["admin"], sub="intruder"))
    assert r.status_code == 401
    # a key issued, used, revoked
    r = await client.post("/api/v1/admin/api-keys", headers=h["admin"], json={
        "name": f"matrix-{uuid.uuid4().hex[:6]}", "scope_type": "department", "scope": "PCS"})
    key = r.json()
    assert (await client.get("/api/v1/orders", headers={"X-API-Key": key["key"]})).status_code == 200
    assert (await client.delete(f"/api/v1/admin/api-keys/{key['id']}", headers=h["admin"])).status_code == 200
    assert (await client.get("/api/v1/orders", headers={"X-API-Key": key["key"]})).status_code == 401
    assert (await client.get("/api/v1/orders", headers={"X-API-Key": key["key"][:-2] + "zz"})).status_code == 401
    # a logged-out session
    pw = next(u["password"] for u in creds["users"] if u["username"] == "leader")
    t = (await client.post("/api/v1/auth/login", json={"username": "leader", "password": pw})).json()
    bearer = {"Authorization": f"Bearer {t['access_token']}"}
    assert (await client.get("/api/v1/analytics/summary", headers=bearer)).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=bearer)).status_code == 204
    assert (await client.get("/api/v1/analytics/summary", headers=bearer)).status_code == 401
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": t["refresh_token"]})
    assert r.status_code == 401

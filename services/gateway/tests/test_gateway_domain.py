"""Unit tests of the gateway's pure rules (no database, no network)."""

import time

import jwt
import pytest
from fengqiao_gateway.domain import audit, credentials, openapi, paging, ratelimit, routing
from fengqiao_gateway.domain.accounts import Account, KeyScope, check_account, check_scope

SECRET = "s" * 40


@pytest.mark.parametrize(("path", "service"), [
    ("/open311/v2/requests.json", "intake"), ("/open311/v2", "intake"), ("/api/v1/cases/C1/timeline", "intake"),
    ("/api/v1/catalogue", "intake"), ("/api/v1/webhooks/x", "intake"), ("/api/v1/attachments", "intake"),
    ("/api/v1/weak-signal-reports", "intake"), ("/api/v1/orders/O1/sign", "dispatch"),
    ("/api/v1/dispatch/rules", "dispatch"), ("/api/v1/mediation/bookings", "mediation"),
    ("/api/v1/analytics/overview", "analytics"), ("/screen", "analytics"), ("/screen/app.js", "analytics"),
    ("/api/v1/casesX", None), ("/api/v1/auth/login", None), ("/console/", None), ("/", None),
])
def test_routing_matches_whole_segments(path, service):
    assert routing.match(path) == service


def test_access_token_round_trip_expiry_and_forgery():
    now = int(time.time())
    tok = credentials.mint_access_token(user_id="u1", session_id="s1", secret=SECRET, now=now, ttl=60)
    claims = credentials.verify_access_token(tok, secret=SECRET, now=now + 59)
    assert (claims.user_id, claims.session_id) == ("u1", "s1")
    with pytest.raises(credentials.CredentialError, match="expired"):
        credentials.verify_access_token(tok, secret=SECRET, now=now + 60)
    with pytest.raises(credentials.CredentialError):
        credentials.verify_access_token(tok, secret="x" * 40, now=now)
    forged = jwt.encode({"sub": "u1", "sid": "s1", "typ": "access", "exp": now + 60, "aud": "fengqiao-public",
                         "iss": "fengqiao-gateway"}, "wrong-secret-wrong-secret-wrong-secret", algorithm="HS256")
    with pytest.raises(credentials.CredentialError):
        credentials.verify_access_token(forged, secret=SECRET, now=now)
    unsigned = jwt.encode({"sub": "u1", "sid": "s1", "typ": "access", "exp": now + 60}, None, algorithm="none")
    with pytest.raises(credentials.CredentialError):
        credentials.verify_access_token(unsigned, secret=SECRET, now=now)


def test_api_key_and_refresh_token_formats():
    key, prefix, digest = credentials.new_api_key()
    assert credentials.parse_api_key(key) == prefix and digest == credentials.sha256(key)
    assert key != credentials.new_api_key()[0]
    for bad in ("", "fqk_short", "abc_12345678_" + "x" * 40, "fqk_1234567_" + "x" * 40):
        with pytest.raises(credentials.CredentialError):
            credentials.parse_api_key(bad)
    tok, h = credentials.new_refresh_token("7b0f5a62-5a2b-4e2c-9e0e-5d1a3c1e2f10")
    assert credentials.parse_refresh_token(tok) == "7b0f5a62-5a2b-4e2c-9e0e-5d1a3c1e2f10"
    assert h == credentials.sha256(tok)
    with pytest.raises(credentials.CredentialError):
        credentials.parse_refresh_token("fqr_not-a-uuid.secret")


def test_page_size_cap():
    assert paging.cap_query("limit=1000&status=open", 100) == "limit=100&status=open"
    assert paging.cap_query("page_size=20&x=1", 100) == "page_size=20&x=1"
    assert paging.cap_query("per_page=abc", 100) == "per_page=abc"
    assert paging.cap_query("", 100) == ""


def test_fixed_window_decisions():
    wid, reset = ratelimit.window(125.0, 60)
    assert (wid, reset) == (2, 55)
    assert ratelimit.decide(3, 3, 5).allowed and not ratelimit.decide(4, 3, 5).allowed
    assert ratelimit.decide(4, 3, 5).remaining == 0


def test_audit_targets():
    t = audit.describe("POST", "/api/v1/orders/O-17/sign")
    assert (t.action, t.object_type, t.object_id) == ("orders.sign", "orders", "O-17")
    t = audit.describe("POST", "/api/v1/cases")
    assert (t.action, t.object_id) == ("cases.create", None)
    assert audit.describe("POST", "/open311/v2/requests.json").action == "open311.requests.create"
    t = audit.describe("POST", "/api/v1/cases/grid-events")
    assert (t.action, t.object_id) == ("cases.grid-events", None)
    t = audit.describe("POST", "/api/v1/dispatch/cases/5e5570d1-8cf6-4529-84d8-c59ac0123a6f/orders")
    assert (t.action, t.object_type, t.object_id) == ("dispatch.cases.orders", "cases",
                                                       "5e5570d1-8cf6-4529-84d8-c59ac0123a6f")
    assert audit.describe("PATCH", "/api/v1/mediation/mediators/M001").action == "mediation.mediators.update"
    assert audit.describe("POST", "/open311/v2/requests/77.json").object_id == "77"
    assert audit.created_id({"id": "C-1"}) == "C-1"
    assert audit.created_id([{"service_request_id": "77"}]) == "77"
    assert audit.created_id({"foo": 1}) is None


def test_openapi_merge_prefixes_clashing_schemas_and_keeps_public_paths_only():
    own = {"openapi": "3.1.0", "paths": {"/api/v1/auth/login": {"post": {"operationId": "login", "responses": {}}},
                                         "/healthz": {"get": {"responses": {}}}},
           "components": {"schemas": {"Shared": {"type": "string"}}}}

    def svc(prefix, field):
        return {"paths": {prefix: {"get": {"operationId": "list", "responses": {"200": {"content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}}}},
            "/internal": {"get": {"responses": {}}}},
            "components": {"schemas": {"Item": {"properties": {field: {}}}, "Shared": {"type": "string"}}}}

    doc = openapi.merge(own, {"intake": svc("/api/v1/cases", "a"), "dispatch": svc("/api/v1/orders", "b"),
                              "mediation": None}, title="t", version="1")
    assert set(doc["paths"]) == {"/api/v1/auth/login", "/api/v1/cases", "/api/v1/orders"}
    schemas = doc["components"]["schemas"]
    assert schemas["Item"] == {"properties": {"a": {}}}
    assert schemas["DispatchItem"] == {"properties": {"b": {}}}
    assert "IntakeShared" not in schemas and "DispatchShared" not in schemas
    ref = doc["paths"]["/api/v1/orders"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ref == {"$ref": "#/components/schemas/DispatchItem"}
    assert doc["paths"]["/api/v1/orders"]["get"]["operationId"] == "dispatch_list"
    assert doc["info"]["x-unavailable-services"] == ["mediation"]


def test_account_rules_and_principals():
    kw = {"departments": {"RSS", "ZZZX"}, "grid_codes": {"WH-01"}}
    assert check_account(["grid_worker"], None, ["WH-01"], None, None, **kw) == []
    fields = {e["field"] for e in check_account(["department_officer"], None, [], None, None, **kw)}
    assert fields == {"department"}
    fields = {e["field"] for e in check_account(["grid_worker", "mediator", "boss"], "XX", ["WH-99"], None, None, **kw)}
    assert fields == {"roles", "department", "grids", "mediator_id"}
    assert all(" " not in e["message_zh"] or e["message_en"] for e in check_account([], None, [], None, None, **kw))
    assert check_scope("department", "RSS", departments={"RSS"}, systems=set()) == []
    assert check_scope("external_system", "x", departments=set(), systems={"y"})[0]["field"] == "scope"
    p = Account("u1", "grid01", "陈", ["grid_worker"], grids=["WH-01"]).principal("rid")
    assert (p.kind, p.grids, p.request_id) == ("user", ["WH-01"], "rid")
    p = KeyScope("k1", "demo", "department", "RSS").principal()
    assert (p.kind, p.roles, p.department) == ("api_key", ["department_system"], "RSS")
    p = KeyScope("k2", "demo", "external_system", "yue-sheng-shi").principal()
    assert (p.roles, p.external_system) == (["external_system"], "yue-sheng-shi")

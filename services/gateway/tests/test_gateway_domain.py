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
    ("/api/v1/public/cases/WH-1", "intake"), ("/c/", "intake"), ("/c", "intake"), ("/cx", None),
    ("/api/v1/follow-ups", "intake"), ("/api/v1/duplicates/C1/confirm", "intake"),
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


def test_client_address_rightmost_untrusted_hop():
    from fengqiao_gateway.domain.clientaddr import client_address, networks

    trusted = networks(["10.0.0.0/8", "203.0.113.7/32", "2001:db8::/32"])
    assert client_address("198.51.100.1", ["6.6.6.6"], trusted) == "198.51.100.1"  # untrusted peer: its XFF ignored
    assert client_address("198.51.100.1", ["6.6.6.6"], ()) == "198.51.100.1"  # no proxies configured
    assert client_address("10.0.0.5", ["6.6.6.6, 198.51.100.9"], trusted) == "198.51.100.9"
    assert client_address("10.0.0.5", ["6.6.6.6", "198.51.100.9, 10.2.2.2"], trusted) == "198.51.100.9"
    assert client_address("10.0.0.5", ["198.51.100.9:5555, [2001:db8::1]:443"], trusted) == "198.51.100.9"
    assert client_address("10.0.0.5", ["junk, 10.1.1.1"], trusted) == "10.1.1.1"
    assert client_address("10.0.0.5", [], trusted) == "10.0.0.5"
    assert client_address("10.0.0.5", ["10.3.3.3, 10.1.1.1"], trusted) == "10.3.3.3"
    assert client_address(None, ["1.2.3.4"], trusted) is None


def test_rightmost_hop_behind_one_proxy():
    from fengqiao_gateway.domain.clientaddr import rightmost_hop

    assert rightmost_hop("10.0.0.5", ["6.6.6.6, 198.51.100.9"]) == "198.51.100.9"
    assert rightmost_hop("10.0.0.5", ["6.6.6.6", "198.51.100.9:443"]) == "198.51.100.9"
    assert rightmost_hop("10.0.0.5", []) == "10.0.0.5" and rightmost_hop("10.0.0.5", ["junk"]) == "10.0.0.5"


def test_stream_slots_per_address_and_total():
    from fengqiao_gateway.domain.streams import StreamSlots

    slots = StreamSlots(total=3, per_address=2)
    assert [slots.acquire("a"), slots.acquire("a"), slots.acquire("a")] == [None, None, "address"]
    assert slots.acquire("b") is None and slots.acquire("c") == "total"
    slots.release("a")
    assert slots.acquire("c") is None and slots.open == 3
    for addr in ("a", "b", "c", "zz"):
        slots.release(addr)
    assert slots.open == 0 and slots.by_address == {}


def test_stream_paths():
    assert routing.is_stream("/screen/stream", None, ["/screen/stream"])
    assert routing.is_stream("/api/v1/x", "text/event-stream", [])
    assert not routing.is_stream("/screen", "text/html", ["/screen/stream"])


async def test_limiter_peek_does_not_count():
    from fengqiao_gateway.adapters.ratelimit import InProcessLimiter

    lim = InProcessLimiter(clock=lambda: 125.0)
    assert (await lim.peek("k", 2)).allowed
    await lim.hit("k", 2)
    assert (await lim.peek("k", 2)).allowed and (await lim.peek("k", 2)).allowed
    await lim.hit("k", 2)
    d = await lim.peek("k", 2)
    assert not d.allowed and d.limit == 2 and d.reset_after == 55


async def test_password_hashing_slots_refuse_when_taken():
    import asyncio

    from fengqiao_common.errors import Unavailable
    from fengqiao_gateway.adapters.passwords import Busy, Passwords

    p = Passwords(time_cost=1, memory_kib=8192, concurrency=1, wait=0.01)
    h = await p.hash("Secret-2026")
    assert await p.verify(h, "Secret-2026") and not await p.verify(h, "nope") and not await p.verify(None, "x")
    await p._slots.acquire()  # another hash holds the only slot
    with pytest.raises(Busy) as e:
        await p.verify(h, "Secret-2026")
    assert isinstance(e.value, Unavailable) and e.value.code == "busy"
    p._slots.release()
    assert await asyncio.wait_for(p.verify(h, "Secret-2026"), 5)

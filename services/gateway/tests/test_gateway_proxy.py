"""Forwarding: routing table, identity, request ids, Open311 keys, page caps, errors, readiness, docs."""

from fengqiao_common.auth import ADMIN

from conftest import bearer, create_user, login

ROUTES = [
    ("/open311/v2/services.json", "intake"), ("/api/v1/cases/C-1/timeline", "intake"),
    ("/api/v1/catalogue", "intake"), ("/api/v1/webhooks", "intake"), ("/api/v1/attachments/a1", "intake"),
    ("/api/v1/weak-signal-reports", "intake"), ("/api/v1/orders/O-1", "dispatch"),
    ("/api/v1/dispatch/board", "dispatch"), ("/api/v1/mediation/bookings", "mediation"),
    ("/api/v1/analytics/overview", "analytics"), ("/screen", "analytics"), ("/screen/static/app.js", "analytics"),
]


async def test_routes_reach_their_service_with_path_unchanged(make_gateway):
    async with make_gateway() as (client, _app):
        for path, service in ROUTES:
            r = await client.get(path + "?a=1&b=%E4%B8%AD")
            assert r.status_code == 200, (path, r.text)
            body = r.json()
            assert (body["service"], body["path"], body["query"]) == (service, path, "a=1&b=%E4%B8%AD")
            assert body["identity"] is None  # no credentials: forwarded anonymously, the service decides
        assert (await client.get("/api/v1/casesX")).status_code == 404
        assert (await client.get("/internal/secret")).status_code == 404


async def test_identity_request_id_and_headers(make_gateway):
    async with make_gateway() as (client, app):
        await create_user(app, username="med", roles=["mediator"], mediator_id="M001")
        tokens = await login(client, "med")
        r = await client.post("/api/v1/mediation/bookings/B-1/confirm", headers={
            **bearer(tokens), "X-Request-ID": "req-abc-123", "Cookie": "a=b"}, json={"ok": True})
        body = r.json()
        assert body["identity"]["mediator_id"] == "M001" and body["identity"]["roles"] == ["mediator"]
        assert body["request_id"] == "req-abc-123"  # in its own header: the identity token carries none
        assert body["identity"]["request_id"] is None
        assert r.headers["x-request-id"] == "req-abc-123"
        assert body["authorization"] is None  # the staff token stays at the gateway
        assert body["body"] == '{"ok":true}'
        assert body["forwarded_for"] == "203.0.113.7"
        r = await client.get("/api/v1/mediation/x", headers=bearer(tokens))
        assert len(r.json()["request_id"]) == 32 and r.json()["request_id"] == r.headers["x-request-id"]
        # security headers on proxied and own answers
        for resp in (r, await client.get("/api/v1/auth/me", headers=bearer(tokens)), await client.get("/console/")):
            assert resp.headers["x-content-type-options"] == "nosniff"
            assert resp.headers["x-frame-options"] == "DENY"
            assert "content-security-policy" in resp.headers
        assert "script-src 'self'" in (await client.get("/console/")).headers["content-security-policy"]


async def test_open311_anonymous_get_and_api_key_in_query_or_form(make_gateway):
    async with make_gateway() as (client, app):
        await create_user(app, username="root", roles=[ADMIN])
        admin = bearer(await login(client, "root"))
        key = (await client.post("/api/v1/admin/api-keys", headers=admin, json={
            "name": "gov", "scope_type": "external_system", "scope": "gd-gov-service"})).json()["key"]
        r = await client.get("/open311/v2/services.json")
        assert r.status_code == 200 and r.json()["identity"] is None
        r = await client.get(f"/open311/v2/requests.json?api_key={key}&status=open")
        assert r.json()["identity"]["external_system"] == "gd-gov-service"
        assert r.json()["query"] == "status=open"  # the key is not passed on in the URL
        form = f"api_key={key}&service_code=labour&description=%E6%AC%A0%E8%96%AA&lat=22.59&long=113.10"
        r = await client.post("/open311/v2/requests.json", content=form,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.json()["identity"]["external_system"] == "gd-gov-service"
        assert r.json()["body"] == form  # the form body is forwarded unchanged
        files = {"media": ("photo.jpg", b"\xff\xd8" + b"j" * 500, "image/jpeg")}
        r = await client.post("/open311/v2/requests.json", data={"api_key": key, "service_code": "labour"}, files=files)
        assert r.json()["identity"]["external_system"] == "gd-gov-service"
        assert "service_code" in r.json()["body"] and len(r.json()["body"]) > 500
        r = await client.post("/open311/v2/requests.json", content="api_key=fqk_bad&x=1",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 401  # in GeoReport's error format
        assert r.json()[0]["code"] == 401 and "API" in r.json()[0]["description"]
        r = await client.get("/open311/v2/requests.xml?api_key=fqk_bad")
        assert r.status_code == 401 and r.text.startswith("<?xml") and "<code>401</code>" in r.text
        # the api_key parameter is an Open311 convention only
        r = await client.get(f"/api/v1/cases?api_key={key}")
        assert r.json()["identity"] is None


async def test_page_size_capped_and_created_objects_audited(make_gateway):
    async with make_gateway(page_size_cap=50) as (client, app):
        await create_user(app, username="gw", roles=["grid_worker"], grids=["WH-01"])
        t = bearer(await login(client, "gw"))
        r = await client.get("/api/v1/cases?limit=5000&page_size=20&per_page=999", headers=t)
        assert r.json()["query"] == "limit=50&page_size=20&per_page=50"
        r = await client.post("/api/v1/cases?create=1", headers=t, json={"x": 1})
        assert r.status_code == 201
        created = r.json()["id"]
        from fengqiao_devstack.testing import eventually
        from fengqiao_gateway.adapters.orm import audit_log
        from sqlalchemy import select

        async def row():
            async with app.state.runtime.session_factory() as s:
                return (await s.execute(select(audit_log).where(audit_log.c.object_id == created))).first()

        a = await eventually(row, timeout=10)
        assert a.action == "cases.create" and a.actor_role == "grid_worker" and a.status == 201


async def test_upstream_down_gives_503_and_readyz_reports_each_service_without_failing(make_gateway, fake_upstreams):
    """The gateway is ready while its own database answers; the services' readiness is reported beside it
    (a service away must not take the front door out of the load balancer: its requests get 503)."""
    _urls, control = fake_upstreams
    async with make_gateway(analytics_url="http://127.0.0.1:9", upstream_retries=1) as (client, _app):
        r = await client.get("/api/v1/analytics/overview")
        assert r.status_code == 503 and r.json()["error"] == "upstream_unavailable"
        r = await client.post("/api/v1/analytics/x", json={})
        assert r.status_code == 503
        r = await client.get("/readyz")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "ready" and body["checks"]["database"] == "ok"
        assert body["upstreams"]["analytics"] == "unavailable" and body["upstreams"]["intake"] == "ok"
    control["dispatch_ready"] = False
    try:
        async with make_gateway() as (client, _app):
            r = await client.get("/readyz")
            assert r.status_code == 200 and r.json()["upstreams"]["dispatch"] == "not_ready"
    finally:
        control["dispatch_ready"] = True
    async with make_gateway() as (client, _app):
        r = await client.get("/readyz")
        assert r.status_code == 200 and set(r.json()["upstreams"]) == {"intake", "dispatch", "mediation", "analytics"}
        assert (await client.get("/healthz")).status_code == 200


async def test_upstream_timeout_gives_504(make_gateway):
    async with make_gateway(upstream_timeout=0.5) as (client, _app):
        r = await client.get("/api/v1/cases/slow")
        assert r.status_code == 504 and r.json()["error"] == "upstream_timeout"


async def test_one_merged_openapi_document(make_gateway):
    async with make_gateway() as (client, _app):
        doc = (await client.get("/openapi.json")).json()
        paths = set(doc["paths"])
        assert {"/api/v1/auth/login", "/api/v1/admin/users", "/api/v1/cases", "/api/v1/orders",
                "/api/v1/mediation", "/api/v1/analytics"} <= paths
        assert "/internal/secret" not in paths and "/healthz" not in paths
        schemas = doc["components"]["schemas"]
        assert {"Item", "DispatchItem", "MediationItem", "AnalyticsItem", "Shared"} <= set(schemas)
        assert {"bearerAuth", "apiKey"} <= set(doc["components"]["securitySchemes"])
        r = await client.get("/docs")
        assert r.status_code == 200 and "/openapi.json" in r.text

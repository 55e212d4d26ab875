"""Abuse limits: rate limits per user, key, address and login (in process and shared in Redis), body size
limits, CORS only for configured origins."""

import uuid

import redis.asyncio as aioredis
from conftest import bearer, create_user, freeze, login

REDIS_URL = "redis://127.0.0.1:6379/0"


async def test_per_user_and_per_key_rate_limits(make_gateway):
    async with make_gateway(rate_limit_user_per_minute=5, rate_limit_key_per_minute=3) as (client, app):
        await create_user(app, username="a1", roles=["dispatcher"], department="ZZZX")
        await create_user(app, username="a2", roles=["dispatcher"], department="ZZZX")
        await create_user(app, username="root", roles=["admin"])
        t1, t2 = bearer(await login(client, "a1")), bearer(await login(client, "a2"))
        freeze(app)
        codes = [(await client.get("/api/v1/orders", headers=t1)).status_code for _ in range(7)]
        assert codes == [200] * 5 + [429] * 2, codes
        r = await client.get("/api/v1/orders", headers=t1)
        assert r.status_code == 429 and r.headers["retry-after"] == "50" and r.json()["error"] == "rate_limited"
        assert r.json()["message_zh"] == "请求过于频繁，请稍后再试"
        # the next window gives a fresh budget
        app.state.runtime.deps.limiter.clock = lambda: 1_800_000_070.0
        assert (await client.get("/api/v1/orders", headers=t1)).status_code == 200
        # another user has a budget of their own
        assert (await client.get("/api/v1/orders", headers=t2)).status_code == 200

        admin = bearer(await login(client, "root"))
        key = (await client.post("/api/v1/admin/api-keys", headers=admin, json={
            "name": "k", "scope_type": "department", "scope": "RSS"})).json()["key"]
        codes = [(await client.get("/api/v1/orders", headers={"X-API-Key": key})).status_code for _ in range(5)]
        assert codes == [200] * 3 + [429] * 2, codes


async def test_anonymous_and_login_limits(make_gateway):
    async with make_gateway(rate_limit_anonymous_per_minute=3, rate_limit_login_per_minute=2) as (client, app):
        freeze(app)
        codes = [(await client.get("/open311/v2/services.json")).status_code for _ in range(5)]
        assert codes == [200] * 3 + [429] * 2
        codes = [(await client.post("/api/v1/auth/login", json={"username": "x", "password": "y"})).status_code
                 for _ in range(4)]
        assert codes == [401, 401, 429, 429]


async def test_redis_limits_are_shared_between_gateway_replicas(make_gateway):
    suffix = uuid.uuid4().hex[:8]
    async with make_gateway(suffix=suffix, redis_url=REDIS_URL, rate_limit_user_per_minute=4) as (c1, app1), \
            make_gateway(suffix=suffix, redis_url=REDIS_URL, rate_limit_user_per_minute=4) as (c2, _app2):
        assert app1.state.runtime.deps.limiter.__class__.__name__ == "RedisLimiter"
        freeze(app1)
        freeze(_app2)
        user = await create_user(app1, username="shared", roles=["leader"])
        t = bearer(await login(c1, "shared"))
        codes = []
        for i in range(6):  # alternate replicas: the budget is one, shared
            codes.append((await (c1 if i % 2 else c2).get("/api/v1/analytics/x", headers=t)).status_code)
        assert codes == [200] * 4 + [429] * 2, codes
        r = aioredis.from_url(REDIS_URL)
        try:
            assert int(await r.get(f"fq:rl:user:{user['id']}:{(1_800_000_010 // 60)}")) == 6
        finally:
            await r.aclose()
        assert (await c2.get("/readyz")).json()["checks"]["redis"] == "ok"


async def test_body_size_limits(make_gateway):
    async with make_gateway(max_body_bytes=1000, max_upload_bytes=5000) as (client, app):
        await create_user(app, username="gw", roles=["grid_worker"], grids=["WH-01"])
        t = bearer(await login(client, "gw"))
        r = await client.post("/api/v1/cases", headers=t, json={"description": "x" * 2000})
        assert r.status_code == 413 and r.json()["message_zh"] == "请求体过大（上限 1000 字节）"
        assert "limit 1000 bytes" in r.json()["message_en"]

        async def chunks():  # no Content-Length: counted while streaming
            for _ in range(5):
                yield b"y" * 400

        r = await client.post("/api/v1/cases", headers={**t, "Content-Type": "application/json"}, content=chunks())
        assert r.status_code == 413
        r = await client.post("/api/v1/auth/login", content=b"{" + b" " * 5000 + b"}",
                              headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        photo = b"\xff\xd8" + b"p" * 3000
        r = await client.post("/api/v1/attachments", headers=t, files={"file": ("a.jpg", photo, "image/jpeg")})
        assert r.status_code == 200 and len(r.json()["body"]) > 3000
        r = await client.post("/api/v1/attachments", headers=t,
                              files={"file": ("a.jpg", photo * 2, "image/jpeg")})
        assert r.status_code == 413
        assert (await client.post("/api/v1/cases", headers=t, json={"description": "ok"})).status_code == 200


async def test_cors_only_for_configured_origins(make_gateway):
    async with make_gateway(cors_origins=["https://console.example.gov.cn"]) as (client, _app):
        pre = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
        r = await client.options("/api/v1/cases", headers={"Origin": "https://console.example.gov.cn", **pre})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://console.example.gov.cn"
        r = await client.options("/api/v1/cases", headers={"Origin": "https://evil.example.com", **pre})
        assert "access-control-allow-origin" not in r.headers
        r = await client.get("/api/v1/cases", headers={"Origin": "https://evil.example.com"})
        assert "access-control-allow-origin" not in r.headers


async def test_failed_authentications_are_counted_across_replicas_in_redis(make_gateway):
    suffix = uuid.uuid4().hex[:8]
    async with make_gateway(suffix=suffix, redis_url=REDIS_URL, auth_failures_per_minute=3) as (c1, app1), \
            make_gateway(suffix=suffix, redis_url=REDIS_URL, auth_failures_per_minute=3) as (c2, app2):
        now = 1_800_000_010.0 + (uuid.uuid4().int % 1000) * 60  # a window of this test's own
        freeze(app1, now)
        freeze(app2, now)
        bad = {"X-API-Key": "fqk_0badc0de_" + "x" * 43}
        codes = [(await (c1 if i % 2 else c2).get("/api/v1/cases", headers=bad)).status_code for i in range(5)]
        assert codes == [401, 401, 401, 429, 429], codes

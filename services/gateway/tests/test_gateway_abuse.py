"""A front door abuse cannot starve (issue #14), against the real gateway app, database and upstream doubles:
failed authentications counted per client address, login sprays, the global failed-login limit, bounded
password hashing, the client address behind trusted proxies, body limits by path, metrics off the public port."""

import asyncio

import httpx
from conftest import bearer, create_user, freeze, login
from fengqiao_devstack.postgres import free_port

BAD_KEY = "fqk_{:08x}_" + "x" * 43


async def test_wrong_key_burst_from_one_address_meets_429(make_gateway):
    async with make_gateway(trusted_proxies=["203.0.113.7/32"]) as (client, app):
        freeze(app)
        attacker = {"X-Forwarded-For": "198.51.100.20"}
        codes = [(await client.get("/api/v1/cases", headers={**attacker, "X-API-Key": BAD_KEY.format(i)})).status_code
                 for i in range(400)]
        assert codes[:100] == [401] * 100 and set(codes[100:]) == {429}, codes
        r = await client.get("/api/v1/cases", headers={**attacker, "X-API-Key": BAD_KEY.format(1)})
        assert r.status_code == 429 and r.headers["retry-after"] == "50" and r.json()["error"] == "rate_limited"
        assert r.json()["message_zh"] == "认证失败次数过多，请稍后再试" and "limit 100" in r.json()["message_en"]
        # the unknown prefixes were looked up at most once each, and the refused ones not at all
        assert len(app.state.runtime.deps.cache.keys._items) == 100
        # the same address is refused with any credentials while it is over; anonymous requests still pass
        await create_user(app, username="lead", roles=["leader"])
        tokens = await login(client, "lead")
        r = await client.get("/api/v1/orders", headers={**attacker, **bearer(tokens)})
        assert r.status_code == 429
        assert (await client.get("/api/v1/cases", headers=attacker)).status_code == 200
        # other addresses are not affected, and bad bearer tokens count as well
        other = {"X-Forwarded-For": "198.51.100.21"}
        assert (await client.get("/api/v1/orders", headers={**other, **bearer(tokens)})).status_code == 200
        codes = [(await client.get("/api/v1/auth/me", headers={**other, "Authorization": f"Bearer junk{i}"})).status_code
                 for i in range(101)]
        assert codes == [401] * 100 + [429]
        # the next window starts over
        app.state.runtime.deps.limiter.clock = lambda: 1_800_000_070.0
        assert (await client.get("/api/v1/orders", headers={**attacker, **bearer(tokens)})).status_code == 200


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(make_gateway):
    async with make_gateway(auth_failures_per_minute=5) as (client, app):
        freeze(app)
        codes = []
        for i in range(8):  # a new spoofed address each time: all counted against the real peer
            r = await client.get("/api/v1/cases", headers={"X-Forwarded-For": f"192.0.2.{i}",
                                                           "X-API-Key": BAD_KEY.format(i)})
            codes.append(r.status_code)
        assert codes == [401] * 5 + [429] * 3
        r = await client.get("/api/v1/catalogue", headers={"X-Forwarded-For": "192.0.2.99"})
        assert r.json()["forwarded_for"] == "203.0.113.7"


async def test_client_address_is_the_rightmost_untrusted_hop(make_gateway):
    async with make_gateway(trusted_proxies=["203.0.113.7/32", "10.0.0.0/8"]) as (client, app):
        await create_user(app, username="disp", roles=["dispatcher"], department="ZZZX")
        for xff, expected in [("198.51.100.9", "198.51.100.9"),
                              ("6.6.6.6, 198.51.100.9", "198.51.100.9"),  # the client's own claim is ignored
                              ("6.6.6.6, 198.51.100.9, 10.1.2.3", "198.51.100.9"),  # behind two proxies
                              ("not-an-ip, 10.1.2.3", "10.1.2.3"),
                              ("10.9.9.9, 10.1.2.3", "10.9.9.9")]:  # only proxies: the leftmost
            r = await client.get("/api/v1/catalogue", headers={"X-Forwarded-For": xff})
            assert r.json()["forwarded_for"] == expected, xff
        r = await client.post("/api/v1/auth/login", headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.44"},
                              json={"username": "disp", "password": "Passw0rd-123"})
        assert r.status_code == 200
        sessions = app.state.runtime.deps.uow()
        async with sessions:
            rows = await sessions.audit.list(actor_id=None, object_id=None, action="auth.login", since=None,
                                             until=None, before_id=None, limit=5)
        assert rows[0]["ip"] == "198.51.100.44"


async def test_trust_forwarded_for_means_one_proxy_in_front(make_gateway):
    async with make_gateway(trust_forwarded_for=True) as (client, _app):
        r = await client.get("/api/v1/catalogue", headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.9"})
        assert r.json()["forwarded_for"] == "198.51.100.9"  # not the client-written 6.6.6.6


async def test_login_spray_from_one_address_meets_429(make_gateway):
    async with make_gateway() as (client, app):  # the default limits
        freeze(app)
        codes = []
        for i in range(500):
            r = await client.post("/api/v1/auth/login", json={"username": f"user{i:03d}", "password": "guess-1234"})
            codes.append(r.status_code)
        assert codes[:60] == [401] * 60 and set(codes[60:]) == {429}, codes
        assert r.headers["retry-after"] == "50"


async def test_failed_logins_of_all_addresses_together_pause_logins(make_gateway):
    async with make_gateway(trusted_proxies=["203.0.113.7/32"], login_failures_global_per_minute=20) as (client, app):
        await create_user(app, username="grid01", roles=["grid_worker"], grids=["WH-01"])
        freeze(app)
        codes = []
        for i in range(30):  # one try per address: no per-address limit is reached
            r = await client.post("/api/v1/auth/login", headers={"X-Forwarded-For": f"198.51.100.{i}"},
                                  json={"username": f"user{i}", "password": "guess-1234"})
            codes.append(r.status_code)
        assert codes == [401] * 20 + [429] * 10
        assert "paused" in r.json()["message_en"] and r.headers["retry-after"]
        r = await client.post("/api/v1/auth/login", headers={"X-Forwarded-For": "192.0.2.200"},
                              json={"username": "grid01", "password": "Passw0rd-123"})
        assert r.status_code == 429  # until the window ends
        app.state.runtime.deps.limiter.clock = lambda: 1_800_000_070.0
        assert (await login(client, "grid01"))["access_token"]


async def test_password_hashing_is_bounded_and_refuses_quickly(make_gateway):
    async with make_gateway(trusted_proxies=["203.0.113.7/32"], password_hash_concurrency=1, password_hash_wait=0.001,
                            password_hash_time_cost=8, password_hash_memory_kib=16384) as (client, app):
        await create_user(app, username="grid01", roles=["grid_worker"], grids=["WH-01"])

        async def attempt(i):
            return await client.post("/api/v1/auth/login", headers={"X-Forwarded-For": f"198.51.100.{i}"},
                                     json={"username": f"user{i}", "password": "guess-1234"})

        answers = await asyncio.gather(*(attempt(i) for i in range(30)))
        codes = [r.status_code for r in answers]
        assert set(codes) == {401, 503} and codes.count(401) >= 1, codes
        busy = next(r for r in answers if r.status_code == 503)
        assert busy.json()["error"] == "busy" and busy.headers["retry-after"]
        assert busy.json()["message_zh"] == "登录请求过多，请稍后重试"
        assert (await login(client, "grid01"))["access_token"]  # once the spray is over


async def test_the_upload_limit_applies_to_uploads_only(make_gateway):
    async with make_gateway() as (client, app):  # default limits: 1 MiB, 20 MiB + framing on /api/v1/attachments
        await create_user(app, username="gw", roles=["grid_worker"], grids=["WH-01"])
        t = bearer(await login(client, "gw"))
        photo = b"\xff\xd8" + b"p" * 2_000_000
        r = await client.post("/api/v1/attachments", headers=t, files={"file": ("a.jpg", photo, "image/jpeg")})
        assert r.status_code == 200 and len(r.json()["body"]) > 2_000_000
        # multipart elsewhere gets the default limit
        r = await client.post("/api/v1/cases", headers=t, files={"file": ("a.jpg", photo, "image/jpeg")})
        assert r.status_code == 413 and r.json()["message_en"] == "request body too large (limit 1048576 bytes)"
        r = await client.post("/api/v1/attachments", headers={**t, "Content-Type": "image/jpeg",
                                                              "Content-Length": str(21 * 1_048_576)},
                              content=b"x" * 10)
        assert r.status_code == 413
        assert r.json()["message_zh"] == "请求体过大（上限 21037056 字节）"  # a 20 MiB photo + 64 KiB of framing
        # login and refresh take a few KiB at most
        r = await client.post("/api/v1/auth/login", content=b'{"username": "' + b"a" * 20_000 + b'"}',
                              headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and "16384" in r.json()["message_en"]


async def test_metrics_only_on_the_internal_port(make_gateway):
    port = free_port()
    async with make_gateway(metrics_port=port) as (client, _app):
        assert (await client.get("/metrics")).status_code == 404  # neither served nor forwarded
        assert (await client.get("/api/v1/cases", headers={"X-API-Key": "nope"})).status_code == 401
        async with httpx.AsyncClient() as c:
            r = await c.get(f"http://127.0.0.1:{port}/metrics")
        assert r.status_code == 200
        assert "fq_http_request_duration_seconds" in r.text and 'fq_gateway_rejected_total{reason="unauthenticated"}' in r.text
        # a second process on the same host cannot bind the port: it serves requests all the same
        async with make_gateway(metrics_port=port) as (client2, _app2):
            assert (await client2.get("/healthz")).status_code == 200
    async with httpx.AsyncClient() as c:
        try:
            await c.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
            stopped = False
        except httpx.HTTPError:
            stopped = True
    assert stopped

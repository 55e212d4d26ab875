"""Event streams and unread bodies through a gateway on a real uvicorn server (an in-process ASGI client
buffers whole answers, so an endless stream needs real sockets): hundreds of open screen streams do not take
the API's connections, streams are capped per address and in all, and a refused request is answered before
its body is read."""

import asyncio
import time

import httpx
from conftest import serve
from fengqiao_devstack.testing import eventually
from fengqiao_gateway.main import create_app

STREAMS = 300


def viewer(i: int) -> dict:
    """Two screens per address: 150 addresses (behind the trusted proxy 127.0.0.1)."""
    return {"X-Forwarded-For": f"198.51.{i // 2 // 250}.{i // 2 % 250 + 1}", "Accept": "text/event-stream"}


async def _api_round(c: httpx.AsyncClient, n: int) -> tuple[list[int], float]:
    started = time.perf_counter()
    answers = await asyncio.gather(*(c.get(f"/api/v1/orders/O-{i}", headers={"X-Forwarded-For": "192.0.2.1"})
                                     for i in range(n)))
    return [r.status_code for r in answers], time.perf_counter() - started


async def test_hundreds_of_open_streams_leave_the_api_its_connections(gateway_settings, fake_upstreams):
    _urls, control = fake_upstreams
    settings = await gateway_settings(upstream_max_connections=16, trusted_proxies=["127.0.0.1/32"],
                                      stream_max_connections=STREAMS, stream_max_per_address=2,
                                      rate_limit_anonymous_per_minute=10_000)
    app = create_app(settings)
    async with serve(app) as base, httpx.AsyncClient(
            base_url=base, timeout=30, limits=httpx.Limits(max_connections=1000, max_keepalive_connections=50)) as c:
        deps = app.state.runtime.deps
        codes, quiet = await _api_round(c, 100)
        assert codes == [200] * 100

        async def open_stream(i):
            r = await c.send(c.build_request("GET", "/screen/stream", headers=viewer(i)), stream=True)
            assert r.status_code == 200, r.status_code
            chunks = r.aiter_raw()  # kept: a collected iterator would close its connection
            assert (await chunks.__anext__()).startswith(b"retry:")
            return r, chunks

        streams = await asyncio.gather(*(open_stream(i) for i in range(STREAMS)))
        try:
            assert deps.stream_slots.open == STREAMS and control["streams_open"] >= STREAMS
            # the API answers meanwhile, through its own pool of 16 connections: no 503/504
            codes, busy = await _api_round(c, 100)
            assert codes == [200] * 100, sorted(set(codes))
            print(f"\n100 concurrent API calls: {quiet * 1000:.0f} ms quiet, {busy * 1000:.0f} ms with {STREAMS} "
                  f"open streams")
            # a third screen of one address, and one stream more than the gateway's total
            r = await c.get("/screen/stream", headers=viewer(0))
            assert r.status_code == 429 and r.json()["error"] == "too_many_streams" and r.headers["retry-after"]
            r = await c.get("/screen/stream", headers={"X-Forwarded-For": "203.0.113.200"})
            assert r.status_code == 503 and "limit 300" in r.json()["message_en"]
        finally:
            await asyncio.gather(*(r.aclose() for r, _chunks in streams))
        # closed streams give their slots back (the gateway notices the disconnect)
        await eventually(lambda: deps.stream_slots.open == 0 or None, timeout=20)
        r = await c.send(c.build_request("GET", "/screen/stream", headers=viewer(0)), stream=True)
        assert r.status_code == 200
        await r.aclose()


async def test_a_refused_request_is_answered_before_its_body_is_read(gateway_settings, fake_upstreams):
    _urls, control = fake_upstreams
    app = create_app(await gateway_settings(rate_limit_anonymous_per_minute=1))
    async with serve(app) as base:
        host, port = base.removeprefix("http://").split(":")

        async def head_only(extra: bytes) -> bytes:
            reader, writer = await asyncio.open_connection(host, int(port))
            try:
                writer.write(b"POST /api/v1/cases HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 900000\r\n" + extra + b"\r\n{")  # the rest never comes
                await writer.drain()
                return await asyncio.wait_for(reader.readline(), 10)
            finally:
                writer.close()

        before = len(control.get("calls", []))
        bad_key = b"X-API-Key: fqk_deadbeef_" + b"x" * 43 + b"\r\n"
        assert b" 401 " in await head_only(bad_key)
        async with httpx.AsyncClient(base_url=base) as c:  # the anonymous budget of 1 a minute, spent
            await c.get("/api/v1/catalogue")
        assert b" 429 " in await head_only(b"")
        assert len(control.get("calls", [])) == before + 1  # only the GET reached a service

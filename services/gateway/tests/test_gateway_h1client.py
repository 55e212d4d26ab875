"""The proxy path's HTTP/1.1 client (adapters/h1client.py) against a real uvicorn server and raw sockets:
keep-alive reuse, bodies in and out (length, chunked, until close, large with flow control), HEAD, timeouts,
connections the server closed, refused connections, broken answers, header injection, the in-flight limit."""

import asyncio
import contextlib

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from fengqiao_devstack.postgres import free_port
from fengqiao_gateway.adapters.h1client import ConnectFailed, H1Pool, ProtocolFailed

BIG = b"x" * (3 * 1024 * 1024 + 7)


def app() -> FastAPI:
    a = FastAPI()
    seen: dict = {"peers": set(), "active": 0, "max_active": 0}
    a.state.seen = seen

    @a.api_route("/echo", methods=["GET", "POST", "PUT", "HEAD"])
    async def echo(request: Request):
        seen["peers"].add(request.client.port)
        seen["active"] += 1
        seen["max_active"] = max(seen["max_active"], seen["active"])
        try:
            body = await request.body()
            await asyncio.sleep(float(request.query_params.get("sleep", 0)))
            return PlainTextResponse(f"{request.method} {len(body)} {request.headers.get('x-a')} "
                                     f"{request.headers.get('transfer-encoding')}",
                                     headers={"x-b": "1", "set-cookie": "a=1"})
        finally:
            seen["active"] -= 1

    @a.get("/chunked")
    async def chunked():
        async def gen():
            for i in range(5):
                yield f"part{i};".encode()
                await asyncio.sleep(0.01)
        return StreamingResponse(gen(), media_type="text/plain")

    @a.get("/big")
    async def big():
        return PlainTextResponse(BIG.decode())

    return a


@pytest.fixture
async def server():
    port = free_port()
    a = app()
    srv = uvicorn.Server(uvicorn.Config(a, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                        timeout_keep_alive=1))
    task = asyncio.create_task(srv.serve())
    while not srv.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    yield port, a.state.seen
    srv.should_exit = True
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(task, 5)


def pool(port: int, **kw) -> H1Pool:
    return H1Pool("127.0.0.1", port, **{"max_connections": 10, "connect_timeout": 1.0, "timeout": 5.0, **kw})


async def text(r) -> str:
    return (await r.aread()).decode()


async def test_keep_alive_reuse_headers_and_bodies(server):
    port, seen = server
    p = pool(port)
    for _ in range(3):
        r = await p.request("GET", "/echo", [("x-a", "v")], b"")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        assert r.headers.get("X-B") == "1" and "set-cookie" in r.headers
        assert await text(r) == "GET 0 v None"
    assert len(seen["peers"]) == 1 and p.idle == 1  # one connection, kept alive
    r = await p.request("POST", "/echo", [], b"abc")
    assert await text(r) == "POST 3 None None"

    async def stream():
        for piece in (b"ab", b"", b"cde"):
            yield piece

    r = await p.request("PUT", "/echo", [], stream())  # no length: sent chunked
    assert await text(r) == "PUT 5 None chunked"
    r = await p.request("PUT", "/echo", [("content-length", "5")], stream())  # as it is
    assert await text(r) == "PUT 5 None None"
    r = await p.request("GET", "/chunked", [], b"")
    assert await text(r) == "part0;part1;part2;part3;part4;"
    r = await p.request("GET", "/big", [], b"")  # larger than the read buffer: reading pauses and resumes
    assert await r.aread() == BIG
    r = await p.request("HEAD", "/echo", [], b"")
    assert r.status_code == 200 and await r.aread() == b""
    r = await p.request("GET", "/echo", [], b"")
    assert await text(r) == "GET 0 None None"
    await p.close()


async def test_timeouts_closed_connections_and_limits(server):
    port, seen = server
    p = pool(port, timeout=0.3)
    with pytest.raises(TimeoutError):
        await p.request("GET", "/echo?sleep=1", [], b"")
    r = await p.request("GET", "/echo", [], b"")  # the timed-out connection was not reused
    assert await text(r) == "GET 0 None None"
    await asyncio.sleep(1.5)  # the server closed the idle connection (keep-alive 1 s)
    r = await p.request("GET", "/echo", [], b"")
    assert await text(r) == "GET 0 None None"
    r = await p.request("GET", "/echo", [], b"")
    await r.aclose()  # closed unread: the connection is not put back half-read
    with pytest.raises(ValueError):
        await p.request("GET", "/echo", [("x-a", "v\r\nx-evil: 1")], b"")
    limited = pool(port, max_connections=2)
    seen["max_active"] = 0

    async def one():
        return await text(await limited.request("GET", "/echo?sleep=0.05", [], b""))

    assert await asyncio.gather(*(one() for _ in range(8))) == ["GET 0 None None"] * 8
    assert seen["max_active"] <= 2 and limited.idle <= 2
    with pytest.raises(ConnectFailed):
        await pool(free_port()).request("GET", "/", [], b"")


async def raw_server(answer: bytes):
    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    return srv, srv.sockets[0].getsockname()[1]


async def test_body_until_close_and_broken_answers():
    srv, port = await raw_server(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end")
    async with srv:
        p = pool(port)
        r = await p.request("GET", "/", [], b"")
        assert await r.aread() == b"until the end" and p.idle == 0
    srv, port = await raw_server(b"NOT HTTP AT ALL\r\n\r\n")
    async with srv:
        with pytest.raises(ProtocolFailed):
            await pool(port).request("GET", "/", [], b"")
    srv, port = await raw_server(b"")  # closed without a byte
    async with srv:
        with pytest.raises(ProtocolFailed):
            await pool(port).request("GET", "/", [], b"")
    srv, port = await raw_server(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort")  # cut short
    async with srv:
        r = await pool(port).request("GET", "/", [], b"")
        with pytest.raises(ProtocolFailed):
            await r.aread()

"""The webhook sender against real slow local HTTP servers: one deadline per send (not per read), a byte
cap on the response, and bounded parallel sends so one slow receiver does not hold up the others."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager

import httpx
import pytest
from fengqiao_intake.adapters.egress import HttpSender
from fengqiao_intake.config import Settings
from fengqiao_intake.domain.egress import EgressRefused
from fengqiao_intake.domain.webhooks import RetryPolicy
from fengqiao_intake.usecases.webhook_delivery import deliver_due
from intake_usecase_kit import world
from test_intake_usecases_webhooks import _queue, _register

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"


@asynccontextmanager
async def receiver(behaviour: str):
    """A raw HTTP server on 127.0.0.1: ``drip`` sends its status line and then one body byte every 0.2 s
    for ever (each read is quick: a per-read timeout never fires); ``flood`` streams an endless body as
    fast as it can; ``stall`` never answers; ``ok`` answers 204 at once."""
    hits: list[float] = []  # when each request arrived (perf_counter)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next((ln.split(b":")[1] for ln in head.split(b"\r\n")
                               if ln.lower().startswith(b"content-length")), b"0"))
            await reader.readexactly(length)
            hits.append(time.perf_counter())
            if behaviour == "ok":
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
            elif behaviour == "stall":
                await asyncio.sleep(3600)
            else:
                writer.write(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
                while True:
                    chunk = b"x" if behaviour == "drip" else b"y" * 65536
                    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    await writer.drain()
                    await asyncio.sleep(0.2 if behaviour == "drip" else 0)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook", hits
    finally:
        server.close()


def _settings(**over) -> Settings:
    return Settings(**({"webhook_allowed_hosts": "127.0.0.1", "webhook_allowed_private_networks": "127.0.0.1/32",
                        "webhook_timeout": 1.0, "webhook_max_response_bytes": 1000} | over))


async def _timed(coro):
    started = time.perf_counter()
    try:
        return await coro, time.perf_counter() - started
    except BaseException as exc:
        return exc, time.perf_counter() - started


async def test_a_dripping_receiver_is_cut_off_at_the_total_deadline():
    async with receiver("drip") as (url, _), httpx.AsyncClient() as client:
        out, took = await _timed(HttpSender(client, _settings(), max_response_bytes=10_000).send(url, b"{}", {}))
    assert isinstance(out, TimeoutError)
    assert 0.9 <= took < 2.0


async def test_a_flooding_receiver_is_read_only_up_to_the_cap():
    async with receiver("flood") as (url, _), httpx.AsyncClient() as client:
        out, took = await _timed(HttpSender(client, _settings()).send(url, b"{}", {}))
    assert out == 200 and took < 0.9


async def test_a_refused_destination_is_not_called():
    async with receiver("ok") as (url, hits), httpx.AsyncClient() as client:
        with pytest.raises(EgressRefused):
            await HttpSender(client, _settings(webhook_allowed_private_networks="")).send(url, b"{}", {})
    assert hits == []


async def test_one_stalled_receiver_does_not_hold_up_the_others():
    uow, c, _ = world()
    s = _settings(webhook_timeout=1.0)
    async with receiver("stall") as (slow_url, _), receiver("ok") as (fast_url, fast_hits), \
            httpx.AsyncClient() as client:
        slow = (await _register(uow, c, url=slow_url)).item
        fast = (await _register(uow, c, url=fast_url)).item
        _queue(uow, slow["id"], "slow")
        for i in range(4):
            _queue(uow, fast["id"], f"fast{i}")
        sender = HttpSender(client, s)
        started = time.perf_counter()
        out, took = await _timed(deliver_due(lambda: uow, sender=sender, policy=RetryPolicy(3, 10, 60),
                                             lease_seconds=30, clock=uow.clock, concurrency=2))
    assert out == 5
    assert 0.9 <= took < 1.9  # the round lasts one deadline, not one per slow send
    # the slow one was claimed first; the fast ones went through the other slot meanwhile
    assert len(fast_hits) == 4 and max(fast_hits) - started < 0.8
    assert {uow.db.deliveries[f"fast{i}"]["status"] for i in range(4)} == {"succeeded"}
    d = uow.db.deliveries["slow"]
    assert d["status"] == "pending" and d["attempts"] == 1 and d["last_error"].startswith("TimeoutError")

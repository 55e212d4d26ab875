"""A small HTTP/1.1 load generator on asyncio (uvloop) + httptools, with keep-alive connections.

Two modes:
- closed loop (:func:`closed_loop`): ``concurrency`` connections each send the next request as soon
  as the previous answer arrived, for ``duration`` seconds: measures the maximum request rate.
- open loop (:func:`open_loop`): requests are *scheduled* at a fixed rate whatever the server does,
  latency is measured from the scheduled time (no coordinated omission): measures latency at a rate.

The same client measures the bare baselines and the services, so the ratios compare like with like.
Requests are produced by a ``make_request() -> Request`` callable, so every request may differ
(new report, another order, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools


@dataclass
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    op: str = "request"  # name of the operation, for per-operation statistics
    on_response: Callable[[int, bytes], None] | None = None  # sees status and body (e.g. to keep ids)

    def encode(self, host: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
        h = {k.lower(): v for k, v in self.headers.items()}
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            h.setdefault("content-type", "application/json")
            h["content-length"] = str(len(self.body))
        for k, v in h.items():
            lines.append(f"{k}: {v}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


class _Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future | None = None
        self.body = bytearray()
        self.closed = False

    # asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)

    def connection_lost(self, exc) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("connection closed"))

    def _fail(self, exc: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), bytes(self.body)))

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        self.body = bytearray()
        self.transport.write(raw)
        return await self.waiter


@dataclass
class OpStats:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0  # connection errors and 5xx

    def add(self, status: int, latency: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 500:
            self.errors += 1
        else:
            self.latencies.append(latency)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


@dataclass
class LoadResult:
    duration: float
    ops: dict[str, OpStats]

    def summary(self) -> dict:
        out = {}
        for name, st in self.ops.items():
            n = len(st.latencies)
            out[name] = {
                "ok": n,
                "errors": st.errors,
                "statuses": {str(k): v for k, v in sorted(st.statuses.items())},
                "rps": round(n / self.duration, 1) if self.duration else 0.0,
                "p50_ms": _ms(percentile(st.latencies, 50)),
                "p95_ms": _ms(percentile(st.latencies, 95)),
                "p99_ms": _ms(percentile(st.latencies, 99)),
            }
        return out

    def total_rps(self) -> float:
        return round(sum(len(s.latencies) for s in self.ops.values()) / self.duration, 1)


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 2)


async def _connect(host: str, port: int) -> _Conn:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(_Conn, host, port)
    return proto


class _Pool:
    def __init__(self, url: str):
        u = urlsplit(url)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.hostport = f"{self.host}:{self.port}"
        self.idle: list[_Conn] = []

    async def call(self, req: Request) -> tuple[int, bytes]:
        conn = self.idle.pop() if self.idle else None
        if conn is None or conn.closed:
            conn = await _connect(self.host, self.port)
        try:
            status, body = await conn.send(req.encode(self.hostport))
        except BaseException:
            if conn.transport is not None:
                conn.transport.close()
            raise
        if not conn.closed:
            self.idle.append(conn)
        return status, body

    def close(self) -> None:
        for c in self.idle:
            if c.transport is not None:
                c.transport.close()
        self.idle.clear()


async def closed_loop(url: str, make_request: Callable[[], Request], *, concurrency: int = 32,
                      duration: float = 10.0, warmup: float = 1.0) -> LoadResult:
    """As many requests as the server answers, from ``concurrency`` keep-alive connections."""
    pool = _Pool(url)
    ops: dict[str, OpStats] = {}
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from = start + warmup
    end = measure_from + duration

    async def worker() -> None:
        while loop.time() < end:
            req = make_request()
            t0 = loop.time()
            try:
                status, body = await pool.call(req)
            except (OSError, httptools.HttpParserError):
                status, body = 599, b""
            t1 = loop.time()
            if req.on_response is not None:
                req.on_response(status, body)
            if t0 >= measure_from:
                ops.setdefault(req.op, OpStats()).add(status, t1 - t0)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    pool.close()
    return LoadResult(duration=duration, ops=ops)


async def open_loop(url: str, make_request: Callable[[], Request | None], *, rate: float, duration: float,
                    max_in_flight: int = 2000, stop: asyncio.Event | None = None) -> LoadResult:
    """``rate`` requests per second, each timed from its scheduled start (no coordinated omission)."""
    pool = _Pool(url)
    ops: dict[str, OpStats] = {}
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(max_in_flight)
    tasks: set[asyncio.Task] = set()
    start = loop.time()
    interval = 1.0 / rate

    async def one(req: Request, scheduled: float) -> None:
        try:
            try:
                status, body = await pool.call(req)
            except (OSError, httptools.HttpParserError):
                status, body = 599, b""
            if req.on_response is not None:
                req.on_response(status, body)
            ops.setdefault(req.op, OpStats()).add(status, loop.time() - scheduled)
        finally:
            sem.release()

    i = 0
    while True:
        scheduled = start + i * interval
        if scheduled - start >= duration or loop.time() - start >= duration or (stop is not None and stop.is_set()):
            break
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        req = make_request()
        i += 1
        if req is None:  # nothing to do in this slot (e.g. no order waiting)
            continue
        try:  # a server that stalls blocks new requests only until the run's end
            await asyncio.wait_for(sem.acquire(), max(0.001, start + duration - loop.time()))
        except TimeoutError:
            break
        t = asyncio.create_task(one(req, scheduled))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=60)
    for t in list(tasks):
        t.cancel()
        with contextlib.suppress(BaseException):
            await t
    pool.close()
    return LoadResult(duration=min(duration, loop.time() - start), ops=ops)


def now() -> float:
    return time.time()

"""A small keep-alive HTTP/1.1 client for the proxy path: asyncio protocols, httptools' response parser.

Why: httpx/httpcore/anyio were 46 % of the gateway's event loop per proxied request (h11 parses a response in
~55 µs, httptools in ~0.7 µs; httpcore's pool asks the OS about every idle connection on each request). Here
idle connections wait in a LIFO stack per origin (the event loop tells a connection the peer closed it; no
probing), at most ``max_connections`` requests in flight per origin, a connection idle at most
``keepalive_expiry`` seconds (below the services' uvicorn keep-alive of 5 s, so it is not reused just as the
server closes it).

Scope: what the gateway sends (no redirects, no decompression, no TLS, no 1xx/upgrade); a response to HEAD or
without a length (read until close) does not keep its connection."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator

import httptools

HIGH_WATER = 256 * 1024  # response bytes buffered before reading from the socket pauses


class ConnectFailed(Exception):
    """No connection (refused, connect timeout, no free slot): the request was not sent."""


class ProtocolFailed(Exception):
    """The connection broke or the answer was not HTTP."""


class Headers:
    """Response headers: lower-case names, ``get`` (first value), ``items`` (duplicates joined by ", ")."""

    __slots__ = ("_map", "_raw")

    def __init__(self, raw: list[tuple[str, str]]):
        self._raw = raw
        m: dict[str, str] = {}
        for k, v in raw:
            m[k] = f"{m[k]}, {v}" if k in m else v
        self._map = m

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._map.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._map[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._map

    def items(self):
        return self._map.items()

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._raw)


class H1Response:
    """What the proxy uses of an httpx streaming response: status_code, headers, aiter_raw, aread, aclose."""

    def __init__(self, conn: _Conn, status: int, headers: Headers):
        self._conn = conn
        self.status_code = status
        self.headers = headers
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._waiter: asyncio.Future | None = None
        self._exc: Exception | None = None
        self.complete = False
        self._reusable = False
        self._released = False

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > HIGH_WATER and self._conn.transport is not None:
            self._conn.transport.pause_reading()
        self._wake()

    def _finish(self, reusable: bool) -> None:
        if not self.complete:
            self.complete, self._reusable = True, reusable
            self._wake()

    def _error(self, exc: Exception) -> None:
        self._exc = exc
        self._wake()

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body as it arrives (de-chunked, not decoded); the connection goes back once it is read."""
        try:
            while True:
                while self._chunks:
                    chunk = self._chunks.popleft()
                    self._buffered -= len(chunk)
                    if self._buffered <= HIGH_WATER // 2 and self._conn.transport is not None:
                        self._conn.transport.resume_reading()
                    yield chunk
                if self.complete:
                    return
                if self._exc is not None:
                    raise self._exc
                self._waiter = asyncio.get_running_loop().create_future()
                await asyncio.wait_for(self._waiter, self._conn.pool.timeout)
        finally:
            self._release()

    async def aread(self) -> bytes:
        return b"".join([c async for c in self.aiter_raw()])

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._conn.pool._release(self._conn, self.complete and self._reusable and not self._chunks)

    async def aclose(self) -> None:
        self._release()


class _Conn(asyncio.Protocol):
    def __init__(self, pool: H1Pool):
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.head_only = False
        self.raw_body = True  # the request body goes as it is (False: chunked framing)
        self._raw: list[tuple[str, str]] = []
        self._head: asyncio.Future | None = None
        self.response: H1Response | None = None
        self._can_write = asyncio.Event()
        self._can_write.set()

    # asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ProtocolFailed(f"bad response: {exc}"))
            self.close()

    def eof_received(self):
        r = self.response
        if r is not None and not r.complete and "content-length" not in r.headers \
                and "chunked" not in (r.headers.get("transfer-encoding") or ""):
            r._finish(reusable=False)  # no length: the body ends with the connection
        return False

    def connection_lost(self, exc):
        self.closed = True
        self._can_write.set()
        self._fail(ProtocolFailed(f"connection closed by the service: {exc!r}"))

    def pause_writing(self):
        self._can_write.clear()

    def resume_writing(self):
        self._can_write.set()

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.response = r = H1Response(self, self.parser.get_status_code(), Headers(self._raw))
        if self.head_only:
            r._finish(reusable=False)  # a HEAD answer has no body (the parser would wait for one)
        if self._head is not None and not self._head.done():
            self._head.set_result(r)

    def on_body(self, body: bytes) -> None:
        if self.response is not None:
            self.response._feed(body)

    def on_message_complete(self) -> None:
        if self.response is not None:
            self.response._finish(reusable=self.parser.should_keep_alive())

    def _fail(self, exc: Exception) -> None:
        if self._head is not None and not self._head.done():
            self._head.set_exception(exc)
        elif self.response is not None and not self.response.complete:
            self.response._error(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def send(self, head: bytes, body, method: str, timeout: float | None) -> H1Response:
        self._raw, self.response, self.head_only = [], None, method == "HEAD"
        self._head = head_fut = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        if isinstance(body, bytes | bytearray):
            self.transport.write(head + body if len(body) < 65536 else head)
            if len(body) >= 65536:
                self.transport.write(body)
        else:
            self.transport.write(head)
            async for chunk in body:
                if self.closed:
                    break
                if chunk:
                    self.transport.write(chunk if self.raw_body else b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    await self._can_write.wait()
            if not self.raw_body and not self.closed:
                self.transport.write(b"0\r\n\r\n")
        return await asyncio.wait_for(head_fut, timeout)


class H1Pool:
    """Connections to one origin (host, port)."""

    def __init__(self, host: str, port: int, *, max_connections: int, connect_timeout: float,
                 timeout: float | None, keepalive_expiry: float = 4.0):
        self.host, self.port = host, port
        self.host_header = f"{host}:{port}".encode("latin-1")
        self.connect_timeout, self.timeout, self.keepalive_expiry = connect_timeout, timeout, keepalive_expiry
        self._idle: list[_Conn] = []  # idle connections hold no slot; slots = requests in flight
        self._slots = asyncio.Semaphore(max_connections)
        self.max_idle = max_connections

    @property
    def idle(self) -> int:
        return len(self._idle)

    async def _connection(self) -> _Conn:
        """An idle connection (newest first) or a new one; the caller holds a slot."""
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < self.keepalive_expiry:
                return conn
            conn.close()
        loop = asyncio.get_running_loop()
        try:
            _t, conn = await asyncio.wait_for(loop.create_connection(lambda: _Conn(self), self.host, self.port),
                                              self.connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise ConnectFailed(f"{self.host}:{self.port}: {exc!r}") from exc
        return conn

    def _release(self, conn: _Conn, reusable: bool) -> None:
        """Once per request: the connection goes back (or is closed), its slot is freed."""
        if reusable and not conn.closed and len(self._idle) < self.max_idle:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()
        self._slots.release()

    async def request(self, method: str, target: str, headers: list[tuple[str, str]], body) -> H1Response:
        """Send; return the response once its head is in (the body streams: read it to the end or ``aclose``).
        ``body``: bytes, or an async iterator of bytes (sent chunked unless a content-length header is given)."""
        lines = [b"%s %s HTTP/1.1\r\nhost: %s\r\n" % (method.encode(), target.encode("latin-1"), self.host_header)]
        has_length = False
        for k, v in headers:
            if "\n" in v or "\r" in v or "\n" in k or "\r" in k:
                raise ValueError(f"header {k!r}: line breaks are not allowed")
            if k.lower() == "content-length":
                has_length = True
            lines.append(b"%s: %s\r\n" % (k.encode("latin-1"), v.encode("latin-1")))
        if body is None:
            body = b""
        streamed = not isinstance(body, bytes | bytearray)
        if not streamed:
            if not has_length and (body or method in ("POST", "PUT", "PATCH")):
                lines.append(b"content-length: %d\r\n" % len(body))
        elif not has_length:
            lines.append(b"transfer-encoding: chunked\r\n")
        lines.append(b"\r\n")
        try:
            await asyncio.wait_for(self._slots.acquire(), self.timeout)
        except TimeoutError as exc:
            raise ConnectFailed("no free connection (pool timeout)") from exc
        try:
            conn = await self._connection()
        except BaseException:
            self._slots.release()
            raise
        conn.raw_body = has_length or not streamed
        try:
            return await conn.send(b"".join(lines), body, method, self.timeout)
        except BaseException:
            self._release(conn, False)
            raise

    async def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()

"""Outgoing HTTP to the services: the proxy path on the httptools client (``FastUpstreams``, adapters/h1client.py),
event streams and tests' injected transports on pooled httpx clients (``Upstreams``); both with timeouts and
retries of idempotent requests on connection errors, behind the same interface (``send``, ``get_json``, ``close``)."""

from __future__ import annotations

import asyncio
import itertools
import json
from urllib.parse import urlsplit

import httpx
import structlog

from .h1client import ConnectFailed, H1Pool, H1Response, ProtocolFailed

log = structlog.get_logger("fengqiao.gateway.upstream")

RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.RemoteProtocolError)


class UpstreamUnavailable(Exception):
    def __init__(self, service: str, timeout: bool = False):
        super().__init__(service)
        self.service = service
        self.timeout = timeout


class Upstreams:
    """``shards`` httpx clients used in turn. httpcore's pool scans all of its connections for every
    request (and asks the OS whether each idle one is readable): with one pool of ~30 busy keep-alive
    connections that scan was a fifth of the gateway's CPU per proxied request (py-spy, bench/intake_write.py).
    Several small pools keep each scan short; together they hold at most ``max_connections``."""

    def __init__(self, base_urls: dict[str, str], *, connect_timeout: float, timeout: float | None,
                 max_connections: int, retries: int, transport: httpx.AsyncBaseTransport | None = None,
                 shards: int = 8):
        self.base_urls = {k: v.rstrip("/") for k, v in base_urls.items()}
        self.retries = retries
        shards = 1 if transport is not None else max(1, min(shards, max_connections))
        per = max(1, max_connections // shards)
        self.clients = [
            httpx.AsyncClient(
                timeout=httpx.Timeout(timeout, connect=connect_timeout),
                limits=httpx.Limits(max_connections=per, max_keepalive_connections=per),
                follow_redirects=False,
                transport=transport,
            )
            for _ in range(shards)
        ]
        self._next = itertools.cycle(self.clients)
        self.client = self.clients[0]  # for the occasional non-proxied call (readiness, OpenAPI documents)

    async def close(self) -> None:
        for c in self.clients:
            await c.aclose()

    async def send(self, service: str, method: str, path: str, query: str, headers: list[tuple[str, str]],
                   body: bytes, *, idempotent: bool) -> httpx.Response:
        """Send and return a streaming response (the caller closes it)."""
        url = self.base_urls[service] + path + (f"?{query}" if query else "")
        attempts = 1 + (self.retries if idempotent else 0)
        for attempt in range(attempts):
            client = next(self._next)
            req = client.build_request(method, url, headers=headers, content=body)
            try:
                return await client.send(req, stream=True)
            except httpx.TimeoutException as exc:
                if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout) and attempt + 1 < attempts:
                    await asyncio.sleep(0.05 * (attempt + 1))
                    continue
                log.warning("upstream timeout", service=service, path=path, error=repr(exc))
                raise UpstreamUnavailable(service, timeout=True) from exc
            except RETRYABLE as exc:
                if attempt + 1 < attempts:
                    await asyncio.sleep(0.05 * (attempt + 1))
                    continue
                log.warning("upstream unavailable", service=service, path=path, error=repr(exc))
                raise UpstreamUnavailable(service) from exc
            except httpx.HTTPError as exc:
                log.warning("upstream error", service=service, path=path, error=repr(exc))
                raise UpstreamUnavailable(service) from exc
        raise UpstreamUnavailable(service)  # pragma: no cover - loop always returns or raises

    async def get_json(self, service: str, path: str, wait: float = 3.0) -> tuple[int, dict | None]:
        try:
            r = await self.client.get(self.base_urls[service] + path, timeout=wait)
        except httpx.HTTPError:
            return 0, None
        try:
            return r.status_code, r.json()
        except ValueError:
            return r.status_code, None


class FastUpstreams:
    """One httptools keep-alive pool per service (same interface as ``Upstreams``)."""

    def __init__(self, base_urls: dict[str, str], *, connect_timeout: float, timeout: float | None,
                 max_connections: int, retries: int, keepalive_expiry: float = 4.0):
        self.base_urls = {k: v.rstrip("/") for k, v in base_urls.items()}
        self.retries = retries
        self.pools: dict[str, H1Pool] = {}
        self._prefix: dict[str, str] = {}
        for name, url in self.base_urls.items():
            u = urlsplit(url)
            if u.scheme != "http" or not u.hostname:
                raise ValueError(f"{name}: only http://host:port upstreams are supported, not {url!r}")
            self.pools[name] = H1Pool(u.hostname, u.port or 80, max_connections=max_connections,
                                      connect_timeout=connect_timeout, timeout=timeout,
                                      keepalive_expiry=keepalive_expiry)
            self._prefix[name] = u.path.rstrip("/")

    async def close(self) -> None:
        for p in self.pools.values():
            await p.close()

    async def send(self, service: str, method: str, path: str, query: str, headers: list[tuple[str, str]],
                   body, *, idempotent: bool) -> H1Response:
        """Send and return a streaming response (the caller reads it to the end or closes it)."""
        pool = self.pools[service]
        target = self._prefix[service] + path + (f"?{query}" if query else "")
        attempts = 1 + (self.retries if idempotent else 0)
        for attempt in range(attempts):
            try:
                return await pool.request(method, target, headers, body)
            except TimeoutError as exc:
                log.warning("upstream timeout", service=service, path=path)
                raise UpstreamUnavailable(service, timeout=True) from exc
            except (ConnectFailed, ProtocolFailed) as exc:
                if attempt + 1 < attempts:
                    await asyncio.sleep(0.05 * (attempt + 1))
                    continue
                log.warning("upstream unavailable", service=service, path=path, error=repr(exc))
                raise UpstreamUnavailable(service) from exc
            except ValueError as exc:  # a header the service must not get (line breaks)
                log.warning("upstream request refused", service=service, path=path, error=repr(exc))
                raise UpstreamUnavailable(service) from exc
        raise UpstreamUnavailable(service)  # pragma: no cover - loop always returns or raises

    async def get_json(self, service: str, path: str, wait: float = 3.0) -> tuple[int, dict | None]:
        try:
            async with asyncio.timeout(wait):
                r = await self.pools[service].request("GET", self._prefix[service] + path,
                                                      [("accept", "application/json")], b"")
                body = await r.aread()
        except (TimeoutError, ConnectFailed, ProtocolFailed):
            return 0, None
        try:
            return r.status_code, json.loads(body)
        except ValueError:
            return r.status_code, None

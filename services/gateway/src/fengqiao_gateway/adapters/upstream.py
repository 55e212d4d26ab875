"""Outgoing HTTP to the services: pooled httpx clients, timeouts, retries for idempotent requests."""

from __future__ import annotations

import asyncio
import itertools

import httpx
import structlog

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

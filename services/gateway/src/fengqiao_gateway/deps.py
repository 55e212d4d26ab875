"""The gateway's typed dependencies (the composition root's product), built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
from fastapi import Depends
from fengqiao_common.app import Runtime, deps_getter
from fengqiao_common.clock import Clock
from fengqiao_common.jurisdiction import Jurisdiction
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .adapters.audit_spool import AuditSpool
from .adapters.audit_writer import AuditWriter
from .adapters.cache import AuthCache, IdentityTokens
from .adapters.passwords import Passwords
from .adapters.ratelimit import InProcessLimiter, RedisLimiter, make_limiter
from .adapters.uow import GatewayUoW
from .adapters.upstream import FastUpstreams, Upstreams
from .config import Settings
from .domain.accounts import Codes
from .domain.clientaddr import Network, networks
from .domain.streams import StreamSlots
from .usecases.auth import TokenPolicy


@dataclass
class Deps:
    settings: Settings
    clock: Clock
    jurisdiction: Jurisdiction
    session_factory: async_sessionmaker[AsyncSession]
    outbox: Any
    passwords: Passwords
    cache: AuthCache
    limiter: InProcessLimiter | RedisLimiter
    upstreams: FastUpstreams | Upstreams
    streams: Upstreams  # event streams only: long-lived, never in the API's pools
    stream_slots: StreamSlots
    trusted_proxies: tuple[Network, ...]
    audit: AuditWriter
    identity_tokens: IdentityTokens
    codes: Codes
    policy: TokenPolicy
    openapi_cache: dict[str, Any] = field(default_factory=dict)

    def uow(self) -> GatewayUoW:
        return GatewayUoW(self.session_factory, self.outbox, self.clock)

    async def close(self) -> None:
        await self.upstreams.close()
        await self.streams.close()
        await self.limiter.close()


def make_upstreams(s: Settings, transport: httpx.AsyncBaseTransport | None = None) -> FastUpstreams | Upstreams:
    """The proxy path: the httptools client (``GATEWAY_UPSTREAM_CLIENT=httpx`` or an injected transport: httpx)."""
    if transport is None and s.upstream_client == "httptools":
        return FastUpstreams(s.upstreams(), connect_timeout=s.upstream_connect_timeout, timeout=s.upstream_timeout,
                             max_connections=s.upstream_max_connections, retries=s.upstream_retries)
    return Upstreams(s.upstreams(), connect_timeout=s.upstream_connect_timeout, timeout=s.upstream_timeout,
                     max_connections=s.upstream_max_connections, retries=s.upstream_retries, transport=transport)


def make_stream_upstreams(s: Settings, transport: httpx.AsyncBaseTransport | None = None) -> Upstreams:
    """One pool with room for every admitted stream (the slots cap them first), no read timeout."""
    return Upstreams(s.upstreams(), connect_timeout=s.upstream_connect_timeout, timeout=None,
                     max_connections=s.stream_max_connections + 8, retries=s.upstream_retries, transport=transport,
                     shards=1)


async def build(runtime: Runtime, transport: httpx.AsyncBaseTransport | None = None) -> Deps:
    s: Settings = runtime.settings  # type: ignore[assignment]
    j = runtime.jurisdiction
    clock = runtime.clock

    def uow() -> GatewayUoW:
        return GatewayUoW(runtime.session_factory, runtime.outbox, clock)

    return Deps(
        settings=s, clock=clock, jurisdiction=j, session_factory=runtime.session_factory,
        outbox=runtime.outbox,
        passwords=Passwords(s.password_hash_time_cost, s.password_hash_memory_kib,
                            concurrency=s.password_hash_concurrency, wait=s.password_hash_wait),
        cache=AuthCache(s.auth_cache_ttl), limiter=make_limiter(s.redis_url), upstreams=make_upstreams(s, transport),
        streams=make_stream_upstreams(s, transport),
        stream_slots=StreamSlots(s.stream_max_connections, s.stream_max_per_address),
        trusted_proxies=networks(s.trusted_proxies),
        audit=AuditWriter(uow, AuditSpool(s.audit_spool_dir), linger=s.audit_linger, wait=s.audit_wait,
                          db_timeout=s.audit_db_timeout, max_pending=s.audit_max_pending),
        identity_tokens=IdentityTokens(s.internal_token_secret),
        codes=Codes(frozenset(d.code for d in j.departments), frozenset(g.code for g in j.grids),
                    frozenset(e.code for e in j.external_systems)),
        policy=TokenPolicy(s.token_secret, s.access_token_ttl, s.refresh_token_ttl, s.refresh_reuse_grace),
    )


DepsDep = Annotated[Deps, Depends(deps_getter(Deps))]

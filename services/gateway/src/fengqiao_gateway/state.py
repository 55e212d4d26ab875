"""The gateway's long-lived collaborators, created at startup and kept on ``runtime.state['gw']``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fengqiao_common.app import Runtime

from .adapters.audit_writer import AuditWriter
from .adapters.ratelimit import InProcessLimiter, RedisLimiter, make_limiter
from .adapters.upstream import Upstreams
from .config import Settings
from .service import Auth


@dataclass
class Gateway:
    settings: Settings
    auth: Auth
    upstreams: Upstreams
    limiter: InProcessLimiter | RedisLimiter
    audit: AuditWriter
    openapi_cache: dict[str, Any] = field(default_factory=dict)


def build(runtime: Runtime, transport=None) -> Gateway:
    s: Settings = runtime.settings  # type: ignore[assignment]
    return Gateway(
        settings=s,
        auth=Auth(runtime),
        upstreams=Upstreams(s.upstreams(), connect_timeout=s.upstream_connect_timeout, timeout=s.upstream_timeout,
                            max_connections=s.upstream_max_connections, retries=s.upstream_retries,
                            transport=transport),
        limiter=make_limiter(s.redis_url),
        audit=AuditWriter(runtime.session_factory),
    )

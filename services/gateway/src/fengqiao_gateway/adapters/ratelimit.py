"""Rate-limit counters: shared in Redis when GATEWAY_REDIS_URL is set, in process otherwise."""

from __future__ import annotations

import asyncio
import time

import structlog

from ..domain.ratelimit import Decision, decide, window

log = structlog.get_logger("fengqiao.gateway.ratelimit")


class InProcessLimiter:
    """Fixed one-minute windows in a dict; old windows are dropped as the clock moves on."""

    def __init__(self, clock=time.time):
        self.clock = clock
        self._counts: dict[tuple[str, int], int] = {}
        self._current = -1

    async def hit(self, key: str, limit: int, period: int = 60) -> Decision:
        wid, reset = window(self.clock(), period)
        if wid != self._current:
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= wid}
            self._current = wid
        n = self._counts.get((key, wid), 0) + 1
        self._counts[(key, wid)] = n
        return decide(n, limit, reset)

    async def peek(self, key: str, limit: int, period: int = 60) -> Decision:
        """Whether ``key`` is already over ``limit`` in this window, without counting a hit."""
        wid, reset = window(self.clock(), period)
        return decide(self._counts.get((key, wid), 0) + 1, limit, reset)  # as if this were the next hit

    async def close(self) -> None:
        pass

    async def ping(self) -> bool:
        return True


class RedisLimiter:
    """The same windows as Redis counters (INCR + EXPIRE in one round trip), shared by all replicas.
    If Redis is unreachable the request is let through (fail open) and the error logged: an outage of
    the limiter must not take the whole public API down."""

    def __init__(self, url: str, clock=time.time, prefix: str = "fq:rl:"):
        import redis.asyncio as redis

        self._redis = redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.clock = clock
        self._prefix = prefix

    async def hit(self, key: str, limit: int, period: int = 60) -> Decision:
        wid, reset = window(self.clock(), period)
        rkey = f"{self._prefix}{key}:{wid}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(rkey)
                pipe.expire(rkey, period + 5)
                n, _ = await pipe.execute()
        except Exception as exc:
            log.warning("rate limiter unavailable, letting request through", error=repr(exc))
            return decide(1, limit, reset)
        return decide(int(n), limit, reset)

    async def peek(self, key: str, limit: int, period: int = 60) -> Decision:
        wid, reset = window(self.clock(), period)
        try:
            n = int(await self._redis.get(f"{self._prefix}{key}:{wid}") or 0)
        except Exception as exc:
            log.warning("rate limiter unavailable, letting request through", error=repr(exc))
            n = 0
        return decide(n + 1, limit, reset)

    async def ping(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self._redis.ping(), 1))
        except Exception:
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def make_limiter(redis_url: str | None):
    return RedisLimiter(redis_url) if redis_url else InProcessLimiter()

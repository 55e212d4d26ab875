"""A small in-process TTL cache for verified sessions and API keys."""

from __future__ import annotations

import time
from typing import Any


class TTLCache:
    def __init__(self, ttl: float, max_items: int = 50_000, clock=time.monotonic):
        self.ttl, self.max_items, self._clock = ttl, max_items, clock
        self._items: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any | None:
        hit = self._items.get(key)
        if hit is None:
            return None
        if hit[0] < self._clock():
            self._items.pop(key, None)
            return None
        return hit[1]

    def put(self, key: str, value: Any) -> None:
        if self.ttl <= 0:
            return
        if len(self._items) >= self.max_items:
            self._items.clear()
        self._items[key] = (self._clock() + self.ttl, value)

    def drop(self, key: str) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()


class AuthCache:
    """The caches of one gateway process: verified sessions, signature-verified access tokens and API keys.
    Local revocations drop entries at once; other replicas notice within ``ttl`` seconds."""

    def __init__(self, ttl: float):
        self.sessions = TTLCache(ttl)
        # signature-verified access tokens (expiry is still checked on every request): decoding and
        # verifying the JWT was a tenth of the gateway's CPU per proxied request
        self.verified = TTLCache(max(ttl, 60.0), max_items=100_000)
        self.keys = TTLCache(ttl)

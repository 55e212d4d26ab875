"""A small in-process TTL cache for verified sessions and API keys."""

from __future__ import annotations

import time
from typing import Any

from fengqiao_common.auth import Principal, mint_identity


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


class IdentityTokens:
    """``X-Fengqiao-Identity`` tokens minted once per principal and reused until ``refresh_before`` seconds before
    they expire (the token carries no request id: that travels in ``X-Request-ID``). Signing a JWT per request
    was a measurable share of the gateway's CPU; any change of the principal (roles, department ...) is a new key."""

    def __init__(self, secret: str, ttl: int = 300, refresh_before: float = 60.0, max_items: int = 20_000,
                 clock=time.monotonic):
        self.secret, self.ttl, self.max_items, self._clock = secret, ttl, max_items, clock
        self.reuse_for = max(0.0, ttl - refresh_before)
        self._items: dict[tuple, tuple[float, str]] = {}

    @staticmethod
    def key(p: Principal) -> tuple:
        return (p.sub, p.kind, p.name, tuple(p.roles), p.department, p.external_system, tuple(p.grids),
                p.mediator_id, p.party_id)

    def get(self, principal: Principal) -> str:
        key, now = self.key(principal), self._clock()
        hit = self._items.get(key)
        if hit is not None and now - hit[0] < self.reuse_for:
            return hit[1]
        if len(self._items) >= self.max_items:
            self._items.clear()
        token = mint_identity(principal.model_copy(update={"request_id": None}), self.secret, ttl=self.ttl)
        self._items[key] = (now, token)
        return token

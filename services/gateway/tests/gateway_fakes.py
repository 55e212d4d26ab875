"""In-memory repositories and unit of work with the interface of adapters/uow.py, for use-case unit tests."""

from __future__ import annotations

import copy
import itertools
from datetime import datetime
from typing import Any

from fengqiao_common.clock import ManualClock
from fengqiao_common.uow import FakeUnitOfWork
from fengqiao_gateway.adapters.cache import AuthCache
from fengqiao_gateway.domain.accounts import Codes


class Store:
    def __init__(self) -> None:
        self.users: dict[str, dict] = {}
        self.sessions: dict[str, dict] = {}
        self.keys: dict[str, dict] = {}
        self.audit: list[dict] = []


USER_DEFAULTS = {"display_name": None, "department": None, "grids": [], "mediator_id": None, "party_id": None,
                 "disabled": False}
SESSION_DEFAULTS = {"previous_refresh_hash": None, "refreshed_at": None, "revoked_at": None, "revoked_reason": None,
                    "ip": None, "user_agent": None}
KEY_DEFAULTS = {"rate_limit_per_minute": None, "created_by": None, "revoked_at": None}


class FakeUsers:
    def __init__(self, store: Store):
        self.s = store

    async def by_username(self, username: str) -> dict | None:
        return next((dict(u) for u in self.s.users.values() if u["username"] == username), None)

    async def get(self, user_id: str, *, lock: bool = False) -> dict | None:
        u = self.s.users.get(user_id)
        return dict(u) if u else None

    async def username_taken(self, username: str) -> bool:
        return await self.by_username(username) is not None

    async def add(self, values: dict[str, Any]) -> None:
        assert not await self.username_taken(values["username"]), "unique username"
        self.s.users[values["id"]] = {**USER_DEFAULTS, **values}

    async def update(self, user_id: str, values: dict[str, Any]) -> None:
        self.s.users[user_id].update(values)

    async def list(self, *, role, department, q, limit, offset) -> list[dict]:
        rows = sorted(self.s.users.values(), key=lambda u: u["username"])
        rows = [u for u in rows if (not role or role in u["roles"]) and (not department or u["department"] == department)
                and (not q or q.lower() in u["username"].lower() or q.lower() in (u["display_name"] or "").lower())]
        return [dict(u) for u in rows[offset:offset + limit]]


class FakeSessions:
    def __init__(self, store: Store):
        self.s = store

    async def add(self, values: dict[str, Any]) -> None:
        self.s.sessions[values["id"]] = {**SESSION_DEFAULTS, **values}

    async def for_refresh(self, session_id: str) -> dict | None:
        row = self.s.sessions.get(session_id)
        return {**row, "disabled": self.s.users[row["user_id"]]["disabled"]} if row else None

    async def with_user(self, session_id: str) -> dict | None:
        row = self.s.sessions.get(session_id)
        if row is None:
            return None
        return {**self.s.users[row["user_id"]], "revoked_at": row["revoked_at"], "expires_at": row["expires_at"]}

    async def update(self, session_id: str, values: dict[str, Any]) -> None:
        self.s.sessions[session_id].update(values)

    async def revoke(self, session_id: str, *, at: datetime, reason: str) -> None:
        row = self.s.sessions.get(session_id)
        if row and row["revoked_at"] is None:
            row.update(revoked_at=at, revoked_reason=reason)

    async def revoke_of_user(self, user_id: str, *, at: datetime, reason: str) -> None:
        for row in self.s.sessions.values():
            if row["user_id"] == user_id and row["revoked_at"] is None:
                row.update(revoked_at=at, revoked_reason=reason)


class FakeKeys:
    def __init__(self, store: Store):
        self.s = store

    async def by_prefix(self, prefix: str) -> dict | None:
        return next((dict(k) for k in self.s.keys.values() if k["prefix"] == prefix), None)

    async def get(self, key_id: str, *, lock: bool = False) -> dict | None:
        k = self.s.keys.get(key_id)
        return dict(k) if k else None

    async def add(self, values: dict[str, Any]) -> None:
        self.s.keys[values["id"]] = {**KEY_DEFAULTS, **values}

    async def revoke(self, key_id: str, *, at: datetime) -> None:
        self.s.keys[key_id]["revoked_at"] = at

    async def revoke_named(self, name: str, *, at: datetime) -> None:
        for k in self.s.keys.values():
            if k["name"] == name and k["revoked_at"] is None:
                k["revoked_at"] = at

    async def list(self, *, include_revoked: bool) -> list[dict]:
        rows = sorted(self.s.keys.values(), key=lambda k: k["created_at"], reverse=True)
        return [dict(k) for k in rows if include_revoked or k["revoked_at"] is None]


_ids = itertools.count(1)


class FakeAudit:
    def __init__(self, store: Store):
        self.s = store

    async def add(self, *rows: dict) -> None:
        seen = self.s.__dict__.setdefault("audit_uids", set())  # the unique index on uid
        for r in rows:
            if r.get("uid") is None or r["uid"] not in seen:
                self.s.audit.append({"id": next(_ids), **r})
                seen.add(r.get("uid"))

    async def list(self, *, actor_id, object_id, action, since, until, before_id, limit) -> list[dict]:
        rows = [r for r in reversed(self.s.audit)
                if (not actor_id or r["actor_id"] == actor_id)
                and (not object_id or r["object_id"] == object_id or object_id in (r.get("subjects") or []))
                and (not action or r["action"].startswith(action)) and (not since or r["at"] >= since)
                and (not until or r["at"] < until) and (not before_id or r["id"] < before_id)]
        return rows[:limit]


class FakeGatewayUoW(FakeUnitOfWork):
    """Same repositories as GatewayUoW, over one in-memory store (restored on rollback)."""

    def __init__(self, clock: ManualClock | None = None):
        super().__init__(clock or ManualClock())
        self.store = Store()
        self.users = FakeUsers(self.store)
        self.sessions = FakeSessions(self.store)
        self.keys = FakeKeys(self.store)
        self.audit = FakeAudit(self.store)

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self.store.__dict__)

    def restore(self, saved: dict[str, Any]) -> None:
        self.store.__dict__.update(copy.deepcopy(saved))


class FakePasswords:
    """Reversible "hashes" (the argon2 adapter is tested against the database)."""

    def __init__(self) -> None:
        self.hashed: list[str] = []

    async def hash(self, password: str) -> str:
        self.hashed.append(password)
        return f"fake${password}"

    async def verify(self, hashed: str | None, password: str) -> bool:
        return hashed is not None and hashed == f"fake${password}"


CODES = Codes(departments=frozenset({"RSS", "PCS", "ZZZX"}), grids=frozenset({"WH-01", "WH-02"}),
              systems=frozenset({"yue-sheng-shi"}))


def cache() -> AuthCache:
    return AuthCache(5.0)

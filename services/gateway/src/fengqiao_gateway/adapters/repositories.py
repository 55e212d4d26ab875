"""All of the gateway's SQL: users, sessions, API keys, audit log. Rows come back as plain dicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fengqiao_common.ids import row_dict
from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .orm import api_keys, audit_log, sessions, users


class UserRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def by_username(self, username: str) -> dict | None:
        return row_dict((await self.session.execute(select(users).where(users.c.username == username))).first())

    async def get(self, user_id: str, *, lock: bool = False) -> dict | None:
        stmt = select(users).where(users.c.id == user_id)
        if lock:
            stmt = stmt.with_for_update()
        return row_dict((await self.session.execute(stmt)).first())

    async def username_taken(self, username: str) -> bool:
        return (await self.session.execute(select(users.c.id).where(users.c.username == username))).first() is not None

    async def add(self, values: dict[str, Any]) -> None:
        await self.session.execute(users.insert().values(**values))

    async def update(self, user_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(update(users).where(users.c.id == user_id).values(**values))

    async def list(self, *, role: str | None, department: str | None, q: str | None, limit: int,
                   offset: int) -> list[dict]:
        stmt = select(users).order_by(users.c.username).limit(limit).offset(offset)
        if role:
            stmt = stmt.where(users.c.roles.any(role))
        if department:
            stmt = stmt.where(users.c.department == department)
        if q:
            like = f"%{q}%"
            stmt = stmt.where(or_(users.c.username.ilike(like), users.c.display_name.ilike(like)))
        return [row_dict(r) for r in (await self.session.execute(stmt)).all()]


class SessionRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(self, values: dict[str, Any]) -> None:
        await self.session.execute(sessions.insert().values(**values))

    async def for_refresh(self, session_id: str) -> dict | None:
        """The session (locked) with its user's ``disabled`` flag."""
        stmt = (select(sessions, users.c.disabled).join(users, users.c.id == sessions.c.user_id)
                .where(sessions.c.id == session_id).with_for_update(of=sessions))
        return row_dict((await self.session.execute(stmt)).first())

    async def with_user(self, session_id: str) -> dict | None:
        """The session's user row plus the session's ``revoked_at`` and ``expires_at``."""
        stmt = (select(users, sessions.c.revoked_at, sessions.c.expires_at)
                .join(sessions, sessions.c.user_id == users.c.id).where(sessions.c.id == session_id))
        return row_dict((await self.session.execute(stmt)).first())

    async def update(self, session_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(update(sessions).where(sessions.c.id == session_id).values(**values))

    async def revoke(self, session_id: str, *, at: datetime, reason: str) -> None:
        await self.session.execute(update(sessions).where(
            and_(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))).values(
            revoked_at=at, revoked_reason=reason))

    async def revoke_of_user(self, user_id: str, *, at: datetime, reason: str) -> None:
        await self.session.execute(update(sessions).where(
            and_(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))).values(
            revoked_at=at, revoked_reason=reason))


class KeyRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def by_prefix(self, prefix: str) -> dict | None:
        return row_dict((await self.session.execute(select(api_keys).where(api_keys.c.prefix == prefix))).first())

    async def get(self, key_id: str, *, lock: bool = False) -> dict | None:
        stmt = select(api_keys).where(api_keys.c.id == key_id)
        if lock:
            stmt = stmt.with_for_update()
        return row_dict((await self.session.execute(stmt)).first())

    async def add(self, values: dict[str, Any]) -> None:
        await self.session.execute(api_keys.insert().values(**values))

    async def revoke(self, key_id: str, *, at: datetime) -> None:
        await self.session.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=at))

    async def revoke_named(self, name: str, *, at: datetime) -> None:
        """Revoke every active key of this name (demo keys are reissued by name)."""
        await self.session.execute(update(api_keys).where(and_(
            api_keys.c.name == name, api_keys.c.revoked_at.is_(None))).values(revoked_at=at))

    async def list(self, *, include_revoked: bool) -> list[dict]:
        stmt = select(api_keys).order_by(api_keys.c.created_at.desc())
        if not include_revoked:
            stmt = stmt.where(api_keys.c.revoked_at.is_(None))
        return [row_dict(r) for r in (await self.session.execute(stmt)).all()]


_AUDIT_INSERT = pg_insert(audit_log).on_conflict_do_nothing(index_elements=["uid"])


class AuditRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(self, *rows: dict) -> None:
        """Rows already written (same ``uid``: a spooled batch the database had in fact committed) are skipped."""
        if rows:
            await self.session.execute(_AUDIT_INSERT, list(rows))

    async def list(self, *, actor_id: str | None, object_id: str | None, action: str | None,
                   since: datetime | None, until: datetime | None, before_id: int | None, limit: int) -> list[dict]:
        stmt = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        conds = []
        if actor_id:
            conds.append(audit_log.c.actor_id == actor_id)
        if object_id:  # the object of the request, or one of the residents' cases its answer named
            conds.append(or_(audit_log.c.object_id == object_id, audit_log.c.subjects.contains([object_id])))
        if action:
            conds.append(audit_log.c.action.like(f"{action}%"))
        if since:
            conds.append(audit_log.c.at >= since)
        if until:
            conds.append(audit_log.c.at < until)
        if before_id:
            conds.append(audit_log.c.id < before_id)
        if conds:
            stmt = stmt.where(and_(*conds))
        return [row_dict(r) for r in (await self.session.execute(stmt)).all()]

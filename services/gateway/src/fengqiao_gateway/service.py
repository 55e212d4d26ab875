"""Use cases of the gateway: log in, refresh, log out, authenticate callers, manage users and API keys,
read the audit log, seed demo accounts. One transaction each."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from fengqiao_common.app import Runtime
from fengqiao_common.auth import Principal
from fengqiao_common.errors import ApiError, field_error, not_found
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .adapters.cache import TTLCache
from .adapters.orm import api_keys, audit_log, sessions, users
from .adapters.passwords import Passwords
from .config import Settings
from .domain import credentials as cred
from .domain.accounts import Account, KeyScope, check_account, check_scope

log = structlog.get_logger("fengqiao.gateway.service")


def _now() -> datetime:
    return datetime.now(UTC)


def unauthenticated(zh: str, en: str) -> ApiError:
    return ApiError(401, "unauthenticated", zh, en, headers={"WWW-Authenticate": "Bearer"})


@dataclass
class Caller:
    """Where a request comes from, for the audit log."""

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


def _account(row) -> Account:
    return Account(
        id=str(row.id), username=row.username, display_name=row.display_name, roles=list(row.roles),
        department=row.department, grids=list(row.grids or []), mediator_id=row.mediator_id,
        party_id=row.party_id, disabled=row.disabled,
    )


def user_out(row) -> dict:
    return {
        "id": str(row.id), "username": row.username, "display_name": row.display_name, "roles": list(row.roles),
        "department": row.department, "grids": list(row.grids or []), "mediator_id": row.mediator_id,
        "party_id": row.party_id, "disabled": row.disabled, "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def key_out(row) -> dict:
    return {
        "id": str(row.id), "name": row.name, "prefix": row.prefix, "scope_type": row.scope_type,
        "scope": row.scope, "rate_limit_per_minute": row.rate_limit_per_minute, "created_at": row.created_at,
        "created_by": row.created_by, "revoked_at": row.revoked_at, "active": row.revoked_at is None,
    }


def audit_row(principal: Principal | None, caller: Caller, *, action: str, method: str | None = None,
              path: str | None = None, object_type: str | None = None, object_id: str | None = None,
              status: int | None = None, detail: dict | None = None) -> dict:
    return {
        "at": _now(), "request_id": caller.request_id,
        "actor_id": principal.sub if principal else None,
        "actor_kind": principal.kind if principal else None,
        "actor_name": (principal.name or "")[:100] if principal else None,
        "actor_role": principal.role if principal else None,
        "department": principal.department if principal else None,
        "action": action[:128], "method": method, "path": (path or "")[:512] or None,
        "object_type": object_type, "object_id": (object_id or "")[:128] or None, "status": status,
        "ip": caller.ip, "user_agent": (caller.user_agent or "")[:256] or None, "detail": detail,
    }


class Auth:
    """Caches of verified sessions and keys (short TTL; local revocations drop entries at once)."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.settings: Settings = runtime.settings  # type: ignore[assignment]
        self.sessions = TTLCache(self.settings.auth_cache_ttl)
        # signature-verified access tokens (expiry is still checked on every request): decoding and
        # verifying the JWT was a tenth of the gateway's CPU per proxied request
        self.verified = TTLCache(max(self.settings.auth_cache_ttl, 60.0), max_items=100_000)
        self.keys = TTLCache(self.settings.auth_cache_ttl)
        self.passwords = Passwords(self.settings.password_hash_time_cost, self.settings.password_hash_memory_kib)

    # ---- staff ---------------------------------------------------------------------------------

    def _tokens(self, account: Account, sid: str, refresh: str) -> dict:
        s = self.settings
        access = cred.mint_access_token(user_id=account.id, session_id=sid, secret=s.token_secret,
                                        now=int(time.time()), ttl=s.access_token_ttl)
        return {"access_token": access, "token_type": "bearer", "expires_in": s.access_token_ttl,
                "refresh_token": refresh, "refresh_expires_in": s.refresh_token_ttl,
                "user": account_public(account)}

    async def login(self, session: AsyncSession, username: str, password: str, caller: Caller) -> dict:
        async with session.begin():
            row = (await session.execute(select(users).where(users.c.username == username))).first()
        ok = await self.passwords.verify(row.password_hash if row else None, password)
        if not ok or row is None or row.disabled:
            async with session.begin():
                await session.execute(audit_log.insert().values(audit_row(
                    None, caller, action="auth.login_failed", method="POST", path="/api/v1/auth/login",
                    object_type="users", object_id=username[:64], status=401)))
            raise unauthenticated("用户名或密码错误", "wrong username or password")
        account = _account(row)
        sid = str(uuid.uuid4())
        refresh, refresh_hash = cred.new_refresh_token(sid)
        async with session.begin():
            await session.execute(sessions.insert().values(
                id=sid, user_id=account.id, refresh_hash=refresh_hash,
                expires_at=_now() + timedelta(seconds=self.settings.refresh_token_ttl),
                ip=caller.ip, user_agent=(caller.user_agent or "")[:256] or None))
            await session.execute(audit_log.insert().values(audit_row(
                account.principal(), caller, action="auth.login", method="POST", path="/api/v1/auth/login",
                object_type="users", object_id=account.id, status=200)))
        return self._tokens(account, sid, refresh)

    async def refresh(self, session: AsyncSession, token: str, caller: Caller) -> dict:
        try:
            sid = cred.parse_refresh_token(token)
        except cred.CredentialError as exc:
            raise unauthenticated("刷新令牌无效", str(exc)) from exc
        async with session.begin():
            row = (await session.execute(
                select(sessions, users.c.disabled).join(users, users.c.id == sessions.c.user_id)
                .where(sessions.c.id == sid).with_for_update(of=sessions))).first()
            if row is None or row.revoked_at is not None or row.expires_at <= _now() or row.disabled:
                raise unauthenticated("刷新令牌已失效", "refresh token revoked or expired")
            digest = cred.sha256(token)
            race = False
            if not cred.same(row.refresh_hash, digest):
                grace = timedelta(seconds=self.settings.refresh_reuse_grace)
                if (row.previous_refresh_hash and cred.same(row.previous_refresh_hash, digest)
                        and row.refreshed_at is not None and row.refreshed_at > _now() - grace):
                    race = True  # two tabs or requests refreshing at once: refuse, keep the session
                else:
                    # an old refresh token used again: someone holds a stolen copy; end the session
                    await session.execute(update(sessions).where(sessions.c.id == sid).values(
                        revoked_at=_now(), revoked_reason="refresh_token_reused"))
                    self.sessions.drop(sid)
                reuse = True
            else:
                reuse = False
                new_token, new_hash = cred.new_refresh_token(sid)
                await session.execute(update(sessions).where(sessions.c.id == sid).values(
                    refresh_hash=new_hash, previous_refresh_hash=row.refresh_hash, refreshed_at=_now()))
                urow = (await session.execute(select(users).where(users.c.id == row.user_id))).one()
        if reuse and race:
            raise unauthenticated("刷新令牌刚被使用，请使用新令牌", "refresh token already rotated; use the new one")
        if reuse:
            raise unauthenticated("刷新令牌已被使用，会话已终止", "refresh token reused; session revoked")
        return self._tokens(_account(urow), sid, new_token)

    async def logout(self, session: AsyncSession, sid: str, principal: Principal, caller: Caller) -> None:
        async with session.begin():
            await session.execute(update(sessions).where(
                and_(sessions.c.id == sid, sessions.c.revoked_at.is_(None))).values(
                revoked_at=_now(), revoked_reason="logout"))
            await session.execute(audit_log.insert().values(audit_row(
                principal, caller, action="auth.logout", method="POST", path="/api/v1/auth/logout",
                object_type="sessions", object_id=sid, status=204)))
        self.sessions.drop(sid)

    async def authenticate_access(self, token: str) -> tuple[Account, str]:
        """(account, session id) for a valid, unrevoked access token; ApiError 401 otherwise."""
        now = int(time.time())
        claims = self.verified.get(token)
        if claims is None:
            try:
                claims = cred.verify_access_token(token, secret=self.settings.token_secret, now=now)
            except cred.CredentialError as exc:
                raise unauthenticated("访问令牌无效或已过期", str(exc)) from exc
            self.verified.put(token, claims)
        elif claims.expires_at <= now:
            raise unauthenticated("访问令牌无效或已过期", "access token expired")
        cached = self.sessions.get(claims.session_id)
        if cached is None:
            async with self.runtime.session_factory() as session:
                row = (await session.execute(
                    select(users, sessions.c.revoked_at, sessions.c.expires_at)
                    .join(sessions, sessions.c.user_id == users.c.id)
                    .where(sessions.c.id == claims.session_id))).first()
            if row is None or str(row.id) != claims.user_id:
                raise unauthenticated("会话不存在", "unknown session")
            cached = (_account(row), row.revoked_at is None and row.expires_at > _now())
            self.sessions.put(claims.session_id, cached)
        account, active = cached
        if not active or account.disabled:
            raise unauthenticated("会话已注销", "session revoked")
        return account, claims.session_id

    # ---- API keys ------------------------------------------------------------------------------

    async def authenticate_key(self, key: str) -> tuple[KeyScope, int | None]:
        """(scope, its own rate limit per minute or None) for a valid, unrevoked key."""
        try:
            prefix = cred.parse_api_key(key)
        except cred.CredentialError as exc:
            raise unauthenticated("API 密钥无效", str(exc)) from exc
        digest = cred.sha256(key)
        cached = self.keys.get(prefix)
        if cached is None:
            async with self.runtime.session_factory() as session:
                row = (await session.execute(select(api_keys).where(api_keys.c.prefix == prefix))).first()
            if row is None:
                raise unauthenticated("API 密钥无效", "unknown API key")
            cached = (row.key_hash, row.revoked_at is None,
                      KeyScope(str(row.id), row.name, row.scope_type, row.scope), row.rate_limit_per_minute)
            self.keys.put(prefix, cached)
        stored_hash, active, scope, limit = cached
        if not cred.same(stored_hash, digest):
            raise unauthenticated("API 密钥无效", "unknown API key")
        if not active:
            raise unauthenticated("API 密钥已吊销", "API key revoked")
        return scope, limit


def account_public(a: Account) -> dict:
    return {"id": a.id, "username": a.username, "display_name": a.display_name, "roles": a.roles,
            "department": a.department, "grids": a.grids, "mediator_id": a.mediator_id, "party_id": a.party_id}


# ---- administration -----------------------------------------------------------------------------

def passwords(runtime: Runtime) -> Passwords:
    return runtime.state["gw"].auth.passwords


def _codes(runtime: Runtime) -> tuple[set[str], set[str], set[str]]:
    j = runtime.jurisdiction
    return ({d.code for d in j.departments}, {g.code for g in j.grids}, {e.code for e in j.external_systems})


async def create_user(runtime: Runtime, session: AsyncSession, data: dict, actor: Principal,
                      caller: Caller) -> dict:
    departments, grids, _ = _codes(runtime)
    errs = check_account(data["roles"], data.get("department"), data.get("grids") or [],
                         data.get("mediator_id"), data.get("party_id"), departments=departments, grid_codes=grids)
    if errs:
        raise ApiError(422, "validation_failed", "请求参数有误", "request validation failed", fields=errs)
    pw_hash = await passwords(runtime).hash(data.pop("password"))
    uid = str(uuid.uuid4())
    async with session.begin():
        exists = (await session.execute(select(users.c.id).where(users.c.username == data["username"]))).first()
        if exists:
            raise ApiError(409, "username_taken", "用户名已存在", "username already taken",
                           fields=[field_error("username", "taken", "用户名已存在", "username already taken")])
        await session.execute(users.insert().values(id=uid, password_hash=pw_hash, **data))
        await session.execute(audit_log.insert().values(audit_row(
            actor, caller, action="admin.users.create", method="POST", path="/api/v1/admin/users",
            object_type="users", object_id=uid, status=201, detail={"username": data["username"],
                                                                     "roles": data["roles"]})))
        row = (await session.execute(select(users).where(users.c.id == uid))).one()
    return user_out(row)


async def update_user(runtime: Runtime, auth: Auth, session: AsyncSession, user_id: str, changes: dict,
                      actor: Principal, caller: Caller) -> dict:
    departments, grids, _ = _codes(runtime)
    password = changes.pop("password", None)
    pw_hash = await auth.passwords.hash(password) if password else None
    async with session.begin():
        row = (await session.execute(select(users).where(users.c.id == user_id).with_for_update())).first()
        if row is None:
            raise not_found("user", "用户")
        merged = {**user_out(row), **changes}
        errs = check_account(merged["roles"], merged["department"], merged["grids"], merged["mediator_id"],
                             merged["party_id"], departments=departments, grid_codes=grids)
        if errs:
            raise ApiError(422, "validation_failed", "请求参数有误", "request validation failed", fields=errs)
        values: dict[str, Any] = {**changes, "updated_at": _now()}
        if pw_hash:
            values["password_hash"] = pw_hash
        await session.execute(update(users).where(users.c.id == user_id).values(**values))
        if changes.get("disabled") or pw_hash:
            await session.execute(update(sessions).where(
                and_(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))).values(
                revoked_at=_now(), revoked_reason="disabled" if changes.get("disabled") else "password_reset"))
        await session.execute(audit_log.insert().values(audit_row(
            actor, caller, action="admin.users.update", method="PATCH", path=f"/api/v1/admin/users/{user_id}",
            object_type="users", object_id=user_id, status=200,
            detail={"fields": sorted(changes) + (["password"] if pw_hash else [])})))
        row = (await session.execute(select(users).where(users.c.id == user_id))).one()
    auth.sessions.clear()  # roles, departments and revocations apply at once on this replica
    return user_out(row)


async def list_users(session: AsyncSession, *, role: str | None, department: str | None, q: str | None,
                     limit: int, offset: int) -> list[dict]:
    stmt = select(users).order_by(users.c.username).limit(limit).offset(offset)
    if role:
        stmt = stmt.where(users.c.roles.any(role))
    if department:
        stmt = stmt.where(users.c.department == department)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(users.c.username.ilike(like), users.c.display_name.ilike(like)))
    return [user_out(r) for r in (await session.execute(stmt)).all()]


async def get_user(session: AsyncSession, user_id: str) -> dict:
    row = (await session.execute(select(users).where(users.c.id == user_id))).first()
    if row is None:
        raise not_found("user", "用户")
    return user_out(row)


async def create_key(runtime: Runtime, session: AsyncSession, data: dict, actor: Principal,
                     caller: Caller) -> dict:
    departments, _, systems = _codes(runtime)
    errs = check_scope(data["scope_type"], data["scope"], departments=departments, systems=systems)
    if errs:
        raise ApiError(422, "validation_failed", "请求参数有误", "request validation failed", fields=errs)
    key, prefix, digest = cred.new_api_key()
    kid = str(uuid.uuid4())
    async with session.begin():
        await session.execute(api_keys.insert().values(id=kid, prefix=prefix, key_hash=digest,
                                                       created_by=actor.sub, **data))
        await session.execute(audit_log.insert().values(audit_row(
            actor, caller, action="admin.api_keys.create", method="POST", path="/api/v1/admin/api-keys",
            object_type="api_keys", object_id=kid, status=201,
            detail={"name": data["name"], "scope_type": data["scope_type"], "scope": data["scope"]})))
        row = (await session.execute(select(api_keys).where(api_keys.c.id == kid))).one()
    return {**key_out(row), "key": key}


async def list_keys(session: AsyncSession, *, include_revoked: bool) -> list[dict]:
    stmt = select(api_keys).order_by(api_keys.c.created_at.desc())
    if not include_revoked:
        stmt = stmt.where(api_keys.c.revoked_at.is_(None))
    return [key_out(r) for r in (await session.execute(stmt)).all()]


async def revoke_key(auth: Auth, session: AsyncSession, key_id: str, actor: Principal, caller: Caller) -> dict:
    async with session.begin():
        row = (await session.execute(select(api_keys).where(api_keys.c.id == key_id).with_for_update())).first()
        if row is None:
            raise not_found("API key", "API 密钥")
        if row.revoked_at is None:
            await session.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=_now()))
            await session.execute(audit_log.insert().values(audit_row(
                actor, caller, action="admin.api_keys.revoke", method="DELETE",
                path=f"/api/v1/admin/api-keys/{key_id}", object_type="api_keys", object_id=key_id, status=200)))
        row = (await session.execute(select(api_keys).where(api_keys.c.id == key_id))).one()
    auth.keys.drop(row.prefix)
    return key_out(row)


async def list_audit(session: AsyncSession, *, actor_id: str | None, object_id: str | None,
                     action: str | None, since: datetime | None, until: datetime | None, before_id: int | None,
                     limit: int) -> list[dict]:
    stmt = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    conds = []
    if actor_id:
        conds.append(audit_log.c.actor_id == actor_id)
    if object_id:
        conds.append(audit_log.c.object_id == object_id)
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
    return [dict(r._mapping) for r in (await session.execute(stmt)).all()]

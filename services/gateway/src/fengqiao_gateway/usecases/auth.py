"""Authentication use cases: staff log in, refresh, log out; every request's access token or API key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Unauthenticated
from fengqiao_common.ids import new_id

from ..adapters.cache import AuthCache
from ..adapters.passwords import Passwords
from ..adapters.uow import GatewayUoW
from ..domain import credentials as cred
from ..domain.accounts import Account, KeyScope, account_of, key_scope_of, public_view
from ..domain.audit import Caller, audit_row

LOGIN_PATH = "/api/v1/auth/login"
UNKNOWN_KEY = "unknown"  # cached marker: no key has this prefix


@dataclass(frozen=True)
class TokenPolicy:
    secret: str
    access_ttl: int
    refresh_ttl: int
    refresh_reuse_grace: float


@dataclass(frozen=True)
class Login:
    username: str
    password: str


def _tokens(uow: GatewayUoW, account: Account, sid: str, refresh: str, policy: TokenPolicy) -> dict:
    access = cred.mint_access_token(user_id=account.id, session_id=sid, secret=policy.secret,
                                    now=int(uow.now().timestamp()), ttl=policy.access_ttl)
    return {"access_token": access, "token_type": "bearer", "expires_in": policy.access_ttl,
            "refresh_token": refresh, "refresh_expires_in": policy.refresh_ttl, "user": public_view(account)}


async def login(uow: GatewayUoW, cmd: Login, *, passwords: Passwords, policy: TokenPolicy, caller: Caller) -> dict:
    """A new session and its tokens for a right username and password; Unauthenticated otherwise (audited).
    The password is checked outside any transaction (argon2 takes tens of milliseconds)."""
    async with uow:
        row = await uow.users.by_username(cmd.username)
    ok = await passwords.verify(row["password_hash"] if row else None, cmd.password)
    if not ok or row is None or row["disabled"]:
        async with uow:
            await uow.audit.add(audit_row(None, caller, at=uow.now(), action="auth.login_failed", method="POST",
                                          path=LOGIN_PATH, object_type="users", object_id=cmd.username[:64],
                                          status=401))
            await uow.commit()
        raise Unauthenticated("用户名或密码错误", "wrong username or password")
    account = account_of(row)
    sid = new_id()
    refresh_token, refresh_hash = cred.new_refresh_token(sid)
    async with uow:
        now = uow.now()
        await uow.sessions.add({"id": sid, "user_id": account.id, "refresh_hash": refresh_hash,
                                "expires_at": now + timedelta(seconds=policy.refresh_ttl), "ip": caller.ip,
                                "user_agent": (caller.user_agent or "")[:256] or None})
        await uow.audit.add(audit_row(account.principal(), caller, at=now, action="auth.login", method="POST",
                                      path=LOGIN_PATH, object_type="users", object_id=account.id, status=200))
        await uow.commit()
    return _tokens(uow, account, sid, refresh_token, policy)


async def refresh(uow: GatewayUoW, token: str, *, cache: AuthCache, policy: TokenPolicy) -> dict:
    """Rotate the refresh token. A token used a second time ends the session (a stolen copy), unless it was
    rotated within the grace period (two tabs refreshing at once): then it is only refused."""
    try:
        sid = cred.parse_refresh_token(token)
    except cred.CredentialError as exc:
        raise Unauthenticated("刷新令牌无效", str(exc)) from exc
    async with uow:
        now = uow.now()
        row = await uow.sessions.for_refresh(sid)
        if row is None or row["revoked_at"] is not None or row["expires_at"] <= now or row["disabled"]:
            raise Unauthenticated("刷新令牌已失效", "refresh token revoked or expired")
        digest = cred.sha256(token)
        if not cred.same(row["refresh_hash"], digest):
            grace = timedelta(seconds=policy.refresh_reuse_grace)
            if (row["previous_refresh_hash"] and cred.same(row["previous_refresh_hash"], digest)
                    and row["refreshed_at"] is not None and row["refreshed_at"] > now - grace):
                raise Unauthenticated("刷新令牌刚被使用，请使用新令牌", "refresh token already rotated; use the new one")
            await uow.sessions.update(sid, {"revoked_at": now, "revoked_reason": "refresh_token_reused"})
            await uow.commit()
            cache.sessions.drop(sid)
            raise Unauthenticated("刷新令牌已被使用，会话已终止", "refresh token reused; session revoked")
        new_token, new_hash = cred.new_refresh_token(sid)
        await uow.sessions.update(sid, {"refresh_hash": new_hash, "previous_refresh_hash": row["refresh_hash"],
                                        "refreshed_at": now})
        user = await uow.users.get(row["user_id"])
        await uow.commit()
    assert user is not None
    return _tokens(uow, account_of(user), sid, new_token, policy)


async def logout(uow: GatewayUoW, principal: Principal, session_id: str, *, cache: AuthCache,
                 caller: Caller) -> None:
    async with uow:
        now = uow.now()
        await uow.sessions.revoke(session_id, at=now, reason="logout")
        await uow.audit.add(audit_row(principal, caller, at=now, action="auth.logout", method="POST",
                                      path="/api/v1/auth/logout", object_type="sessions", object_id=session_id,
                                      status=204))
        await uow.commit()
    cache.sessions.drop(session_id)


async def authenticate_access(uow: GatewayUoW, token: str, *, cache: AuthCache, secret: str) -> tuple[Account, str]:
    """(account, session id) for a valid access token of a live session; Unauthenticated otherwise."""
    now = int(uow.now().timestamp())
    claims = cache.verified.get(token)
    if claims is None:
        try:
            claims = cred.verify_access_token(token, secret=secret, now=now)
        except cred.CredentialError as exc:
            raise Unauthenticated("访问令牌无效或已过期", str(exc)) from exc
        cache.verified.put(token, claims)
    elif claims.expires_at <= now:
        raise Unauthenticated("访问令牌无效或已过期", "access token expired")
    cached = cache.sessions.get(claims.session_id)
    if cached is None:
        async with uow:
            row = await uow.sessions.with_user(claims.session_id)
            if row is None or str(row["id"]) != claims.user_id:
                raise Unauthenticated("会话不存在", "unknown session")
            cached = (account_of(row), row["revoked_at"] is None and row["expires_at"] > uow.now())
        cache.sessions.put(claims.session_id, cached)
    account, active = cached
    if not active or account.disabled:
        raise Unauthenticated("会话已注销", "session revoked")
    return account, claims.session_id


async def authenticate_key(uow: GatewayUoW, key: str, *, cache: AuthCache) -> tuple[KeyScope, int | None]:
    """(scope, the key's own rate limit per minute or None) for a valid, unrevoked key. Unknown prefixes are
    cached too, so a burst of made-up keys does not become a burst of database reads."""
    try:
        prefix = cred.parse_api_key(key)
    except cred.CredentialError as exc:
        raise Unauthenticated("API 密钥无效", str(exc)) from exc
    cached = cache.keys.get(prefix)
    if cached is None:
        async with uow:
            row = await uow.keys.by_prefix(prefix)
        cached = UNKNOWN_KEY if row is None else (row["key_hash"], row["revoked_at"] is None, key_scope_of(row),
                                                  row["rate_limit_per_minute"])
        cache.keys.put(prefix, cached)
    if cached == UNKNOWN_KEY:
        raise Unauthenticated("API 密钥无效", "unknown API key")
    stored_hash, active, scope, limit = cached
    if not cred.same(stored_hash, cred.sha256(key)):
        raise Unauthenticated("API 密钥无效", "unknown API key")
    if not active:
        raise Unauthenticated("API 密钥已吊销", "API key revoked")
    return scope, limit

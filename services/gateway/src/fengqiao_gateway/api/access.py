"""Who is calling: the client address, staff identity at the door (bearer token), the admin role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fengqiao_common.auth import ADMIN, DPO, Principal
from fengqiao_common.errors import ApiError, Forbidden, Unauthenticated
from fengqiao_common.logging import request_id_var

from ..deps import Deps, DepsDep
from ..domain.accounts import Account
from ..domain.audit import Caller
from ..domain.clientaddr import client_address, rightmost_hop
from ..metrics import REJECTED
from ..usecases import auth as auth_uc


def unauthenticated(zh: str, en: str) -> ApiError:
    return ApiError(401, "unauthenticated", zh, en, headers={"WWW-Authenticate": "Bearer"})


def client_ip(request: Request, deps: Deps) -> str | None:
    """The socket peer, or behind trusted proxies the rightmost untrusted X-Forwarded-For hop."""
    peer = request.client.host if request.client else None
    if deps.trusted_proxies:
        ip = client_address(peer, request.headers.getlist("x-forwarded-for"), deps.trusted_proxies)
    elif deps.settings.trust_forwarded_for:
        ip = rightmost_hop(peer, request.headers.getlist("x-forwarded-for"))
    else:
        return peer
    return ip[:64] if ip else None


def caller(request: Request, deps: DepsDep) -> Caller:
    return Caller(ip=client_ip(request, deps), user_agent=request.headers.get("user-agent"),
                  request_id=request_id_var.get())


CallerDep = Annotated[Caller, Depends(caller)]


def too_many(decision, zh: str = "请求过于频繁，请稍后再试", en: str = "too many requests, retry later") -> ApiError:
    return ApiError(429, "rate_limited", zh, en,
                    headers={"Retry-After": str(decision.reset_after),
                             "X-RateLimit-Limit": str(decision.limit), "X-RateLimit-Remaining": "0"})


async def refuse_failing_address(deps: Deps, ip: str | None) -> None:
    """429 for an address that presented too many wrong keys or bad tokens in this window (checked before
    any credential is looked at, and before a body is read)."""
    d = await deps.limiter.peek(f"authfail:{ip}", deps.settings.auth_failures_per_minute)
    if not d.allowed:
        REJECTED.labels("auth_failures").inc()
        raise too_many(d, "认证失败次数过多，请稍后再试",
                       f"too many failed authentications from this address (limit {d.limit} a minute), "
                       "retry later")


async def count_failure(deps: Deps, ip: str | None) -> None:
    await deps.limiter.hit(f"authfail:{ip}", deps.settings.auth_failures_per_minute)


def bearer(request: Request) -> str | None:
    h = request.headers.get("authorization")
    if not h:
        return None
    scheme, _, token = h.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated("认证头格式错误", "expected 'Authorization: Bearer <token>'")
    return token.strip()


@dataclass
class Staff:
    account: Account
    session_id: str
    principal: Principal


async def staff(request: Request, deps: DepsDep) -> Staff:
    token = bearer(request)
    if token is None:
        raise unauthenticated("未认证", "authentication required")
    ip = client_ip(request, deps)
    await refuse_failing_address(deps, ip)
    try:
        account, sid = await auth_uc.authenticate_access(deps.uow(), token, cache=deps.cache,
                                                         secret=deps.settings.token_secret)
    except Unauthenticated:
        await count_failure(deps, ip)
        raise
    decision = await deps.limiter.hit(f"user:{account.id}", deps.settings.rate_limit_user_per_minute)
    if not decision.allowed:
        raise too_many(decision)
    return Staff(account, sid, account.principal(request_id_var.get()))


StaffDep = Annotated[Staff, Depends(staff)]


async def admin(s: StaffDep) -> Staff:
    if ADMIN not in s.account.roles:
        raise Forbidden("仅管理员可执行此操作", "admin role required")
    return s


AdminDep = Annotated[Staff, Depends(admin)]


async def auditor(s: StaffDep) -> Staff:
    """The audit log is read by admins and by the data-protection officer."""
    if ADMIN not in s.account.roles and DPO not in s.account.roles:
        raise Forbidden("仅管理员或数据保护专员可查看审计日志", "admin or data-protection officer (dpo) role required")
    return s


AuditorDep = Annotated[Staff, Depends(auditor)]

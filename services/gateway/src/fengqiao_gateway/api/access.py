"""Who is calling: the client address, staff identity at the door (bearer token), the admin role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fengqiao_common.auth import ADMIN, Principal
from fengqiao_common.errors import ApiError, Forbidden
from fengqiao_common.logging import request_id_var

from ..config import Settings
from ..deps import DepsDep
from ..domain.accounts import Account
from ..domain.audit import Caller
from ..usecases import auth as auth_uc


def unauthenticated(zh: str, en: str) -> ApiError:
    return ApiError(401, "unauthenticated", zh, en, headers={"WWW-Authenticate": "Bearer"})


def client_ip(request: Request, settings: Settings) -> str | None:
    if settings.trust_forwarded_for:
        fwd = request.headers.get("x-forwarded-for")
        if fwd:
            return fwd.split(",")[0].strip()[:64]
    return request.client.host if request.client else None


def caller(request: Request, deps: DepsDep) -> Caller:
    return Caller(ip=client_ip(request, deps.settings), user_agent=request.headers.get("user-agent"),
                  request_id=request_id_var.get())


CallerDep = Annotated[Caller, Depends(caller)]


def too_many(decision) -> ApiError:
    return ApiError(429, "rate_limited", "请求过于频繁，请稍后再试", "too many requests, retry later",
                    headers={"Retry-After": str(decision.reset_after),
                             "X-RateLimit-Limit": str(decision.limit), "X-RateLimit-Remaining": "0"})


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
    account, sid = await auth_uc.authenticate_access(deps.uow(), token, cache=deps.cache,
                                                     secret=deps.settings.token_secret)
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

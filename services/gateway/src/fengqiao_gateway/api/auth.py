"""/api/v1/auth: staff login, token refresh, logout, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fengqiao_common.errors import Unauthenticated

from ..deps import DepsDep
from ..domain.accounts import public_view
from ..metrics import REJECTED
from ..usecases import auth as uc
from .access import CallerDep, StaffDep, too_many
from .schemas import LoginIn, RefreshIn, TokensOut, UserPublic

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login", operation_id="auth_login", response_model=TokensOut,
             summary="Log in with username and password / 账号密码登录")
async def login(body: LoginIn, deps: DepsDep, caller: CallerDep):
    """Refused with 429 before any password is hashed: while failed logins of all addresses together pass
    their limit, past the attempts of one address, or of one address and username; 503 when every hashing
    slot is taken (argon2 holds 64 MiB per hash)."""
    s = deps.settings
    failures = await deps.limiter.peek("loginfail:all", s.login_failures_global_per_minute)
    if not failures.allowed:
        REJECTED.labels("login_failures_global").inc()
        raise too_many(failures, "登录失败次数过多，登录暂停，请稍后再试",
                       "too many failed logins, logins are paused; retry later")
    for bucket, limit in ((f"loginaddr:{caller.ip}", s.rate_limit_login_per_address_per_minute),
                          (f"login:{caller.ip}:{body.username.lower()}", s.rate_limit_login_per_minute)):
        decision = await deps.limiter.hit(bucket, limit)
        if not decision.allowed:
            REJECTED.labels("login_rate_limited").inc()
            raise too_many(decision)
    try:
        return await uc.login(deps.uow(), uc.Login(body.username, body.password), passwords=deps.passwords,
                              policy=deps.policy, caller=caller)
    except Unauthenticated:
        await deps.limiter.hit("loginfail:all", s.login_failures_global_per_minute)
        raise


@router.post("/refresh", operation_id="auth_refresh", response_model=TokensOut,
             summary="Exchange a refresh token for new tokens (rotation) / 刷新令牌")
async def refresh(body: RefreshIn, deps: DepsDep, caller: CallerDep):
    decision = await deps.limiter.hit(f"refresh:{caller.ip}", deps.settings.rate_limit_login_per_minute * 6)
    if not decision.allowed:
        raise too_many(decision)
    return await uc.refresh(deps.uow(), body.refresh_token, cache=deps.cache, policy=deps.policy)


@router.post("/logout", operation_id="auth_logout", status_code=204, response_class=Response,
             summary="Log out (revoke the session) / 注销")
async def logout(staff: StaffDep, deps: DepsDep, caller: CallerDep):
    await uc.logout(deps.uow(), staff.principal, staff.session_id, cache=deps.cache, caller=caller)
    return Response(status_code=204)


@router.get("/me", operation_id="auth_me", response_model=UserPublic, summary="The logged-in user / 当前用户")
async def me(staff: StaffDep):
    return public_view(staff.account)

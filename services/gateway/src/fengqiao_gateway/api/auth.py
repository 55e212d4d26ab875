"""/api/v1/auth: staff login, token refresh, logout, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fengqiao_common.db import Session
from pydantic import BaseModel, Field

from .deps import CallerDep, Gw, StaffDep, too_many

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class UserPublic(BaseModel):
    id: str
    username: str
    display_name: str | None
    roles: list[str]
    department: str | None
    grids: list[str]
    mediator_id: str | None
    party_id: str | None


class TokensOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user: UserPublic


@router.post("/login", operation_id="auth_login", response_model=TokensOut,
             summary="Log in with username and password / 账号密码登录")
async def login(body: LoginIn, gw: Gw, session: Session, caller: CallerDep):
    decision = await gw.limiter.hit(f"login:{caller.ip}:{body.username.lower()}",
                                    gw.settings.rate_limit_login_per_minute)
    if not decision.allowed:
        raise too_many(decision)
    return await gw.auth.login(session, body.username, body.password, caller)


@router.post("/refresh", operation_id="auth_refresh", response_model=TokensOut,
             summary="Exchange a refresh token for new tokens (rotation) / 刷新令牌")
async def refresh(body: RefreshIn, gw: Gw, session: Session, caller: CallerDep):
    decision = await gw.limiter.hit(f"refresh:{caller.ip}", gw.settings.rate_limit_login_per_minute * 6)
    if not decision.allowed:
        raise too_many(decision)
    return await gw.auth.refresh(session, body.refresh_token, caller)


@router.post("/logout", operation_id="auth_logout", status_code=204, summary="Log out (revoke the session) / 注销")
async def logout(staff: StaffDep, gw: Gw, session: Session, caller: CallerDep):
    await gw.auth.logout(session, staff.session_id, staff.principal, caller)
    return Response(status_code=204)


@router.get("/me", operation_id="auth_me", response_model=UserPublic, summary="The logged-in user / 当前用户")
async def me(staff: StaffDep):
    a = staff.account
    return UserPublic(id=a.id, username=a.username, display_name=a.display_name, roles=a.roles,
                      department=a.department, grids=a.grids, mediator_id=a.mediator_id, party_id=a.party_id)

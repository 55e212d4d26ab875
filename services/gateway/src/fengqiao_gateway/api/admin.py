"""/api/v1/admin: users, API keys, audit log (admin role only)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query
from fengqiao_common.db import Session
from pydantic import BaseModel, Field, field_validator

from .. import service
from ..domain.accounts import USERNAME_RE
from .deps import AdminDep, CallerDep, Gw

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


def _password(v: str | None) -> str | None:
    if v is not None and (len(v) < 8 or v.isdigit() or v.isalpha()):
        raise ValueError("密码至少 8 位且须同时包含字母和数字 / password needs 8+ characters with letters and digits")
    return v


class UserIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    display_name: str | None = Field(None, max_length=100)
    roles: list[str] = Field(min_length=1, max_length=8)
    department: str | None = Field(None, max_length=32)
    grids: list[str] = Field(default_factory=list, max_length=100)
    mediator_id: str | None = Field(None, max_length=64)
    party_id: str | None = Field(None, max_length=64)

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        if not USERNAME_RE.match(v):
            raise ValueError("用户名须为 3-64 位字母、数字、点、下划线或连字符 / "
                             "username must be 3-64 letters, digits, '.', '_' or '-'")
        return v

    _pw = field_validator("password")(_password)


class UserPatch(BaseModel):
    display_name: str | None = Field(None, max_length=100)
    roles: list[str] | None = Field(None, min_length=1, max_length=8)
    department: str | None = Field(None, max_length=32)
    grids: list[str] | None = Field(None, max_length=100)
    mediator_id: str | None = Field(None, max_length=64)
    party_id: str | None = Field(None, max_length=64)
    disabled: bool | None = None
    password: str | None = Field(None, max_length=256)

    _pw = field_validator("password")(_password)


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str | None
    roles: list[str]
    department: str | None
    grids: list[str]
    mediator_id: str | None
    party_id: str | None
    disabled: bool
    created_at: datetime
    updated_at: datetime


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scope_type: Literal["external_system", "department"]
    scope: str = Field(min_length=1, max_length=64)
    rate_limit_per_minute: int | None = Field(None, ge=1, le=100_000)


class KeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    scope_type: str
    scope: str
    rate_limit_per_minute: int | None
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None
    active: bool


class KeyCreated(KeyOut):
    key: str = Field(description="shown once; only its hash is stored")


class AuditOut(BaseModel):
    id: int
    at: datetime
    request_id: str | None
    actor_id: str | None
    actor_kind: str | None
    actor_name: str | None
    actor_role: str | None
    department: str | None
    action: str
    method: str | None
    path: str | None
    object_type: str | None
    object_id: str | None
    status: int | None
    ip: str | None
    user_agent: str | None
    detail: dict | None


@router.get("/users", operation_id="admin_list_users", response_model=list[UserOut], summary="Users / 用户列表")
async def list_users(_: AdminDep, session: Session, role: str | None = None, department: str | None = None,
                     q: str | None = Query(None, max_length=64), limit: int = Query(100, ge=1, le=500),
                     offset: int = Query(0, ge=0, le=1_000_000)):
    return await service.list_users(session, role=role, department=department, q=q, limit=limit, offset=offset)


@router.post("/users", operation_id="admin_create_user", response_model=UserOut, status_code=201,
             summary="Create a user / 新建用户")
async def create_user(body: UserIn, staff: AdminDep, gw: Gw, session: Session, caller: CallerDep):
    return await service.create_user(gw.auth.runtime, session, body.model_dump(), staff.principal, caller)


@router.get("/users/{user_id}", operation_id="admin_get_user", response_model=UserOut, summary="A user / 用户")
async def get_user(user_id: str, _: AdminDep, session: Session):
    return await service.get_user(session, _uuid(user_id))


@router.patch("/users/{user_id}", operation_id="admin_update_user", response_model=UserOut,
              summary="Change roles, scope, password; disable (revokes sessions) / 修改用户")
async def update_user(user_id: str, body: UserPatch, staff: AdminDep, gw: Gw, session: Session,
                      caller: CallerDep):
    changes = body.model_dump(exclude_unset=True)
    return await service.update_user(gw.auth.runtime, gw.auth, session, _uuid(user_id), changes,
                                     staff.principal, caller)


@router.get("/api-keys", operation_id="admin_list_api_keys", response_model=list[KeyOut],
            summary="API keys / API 密钥列表")
async def list_keys(_: AdminDep, session: Session, include_revoked: bool = False):
    return await service.list_keys(session, include_revoked=include_revoked)


@router.post("/api-keys", operation_id="admin_create_api_key", response_model=KeyCreated, status_code=201,
             summary="Issue an API key (shown once) / 签发 API 密钥")
async def create_key(body: KeyIn, staff: AdminDep, gw: Gw, session: Session, caller: CallerDep):
    return await service.create_key(gw.auth.runtime, session, body.model_dump(), staff.principal, caller)


@router.delete("/api-keys/{key_id}", operation_id="admin_revoke_api_key", response_model=KeyOut,
               summary="Revoke an API key / 吊销 API 密钥")
async def revoke_key(key_id: str, staff: AdminDep, gw: Gw, session: Session, caller: CallerDep):
    return await service.revoke_key(gw.auth, session, _uuid(key_id), staff.principal, caller)


@router.get("/audit", operation_id="admin_audit_log", response_model=list[AuditOut],
            summary="Audit log: who did what to which case, when, from where / 审计日志")
async def audit(_: AdminDep, session: Session, actor_id: str | None = None, object_id: str | None = None,
                action: str | None = Query(None, max_length=128), since: datetime | None = None,
                until: datetime | None = None, before_id: int | None = Query(None, ge=1, le=2**63 - 1),
                limit: int = Query(100, ge=1, le=500)):
    return await service.list_audit(session, actor_id=actor_id, object_id=object_id, action=action, since=since,
                                    until=until, before_id=before_id, limit=limit)


def _uuid(v: str) -> str:
    import uuid

    from fengqiao_common.errors import not_found

    try:
        return str(uuid.UUID(v))
    except ValueError:
        raise not_found() from None

"""Request and response models of the gateway's own routes (auth and administration)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from ..domain.accounts import USERNAME_RE


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
    fields: str | None = Field(None, description="personal fields the service returned, e.g. name,phone,id_number(masked)")
    purpose: str | None = None
    subjects: list[str] | None = Field(None, description="case ids / numbers the answer was about")


class ReadyOut(BaseModel):
    status: str
    service: str
    checks: dict[str, str]
    upstreams: dict[str, str] = Field(default_factory=dict)

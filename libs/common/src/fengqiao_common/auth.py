"""Caller identity as the services see it.

The gateway authenticates every caller (password + access token, or API key) and forwards the
request with ``X-Fengqiao-Identity``: a short-lived JWT (HS256, audience ``fengqiao-internal``)
signed with ``FQ_INTERNAL_TOKEN_SECRET``. Services verify the signature, expiry and audience
before trusting any claim; a bare or forged header is refused with 401. Authorization by role and
by object is decided in the service that owns the object.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, Field

from .errors import ApiError

IDENTITY_HEADER = "X-Fengqiao-Identity"
AUDIENCE = "fengqiao-internal"
ISSUER = "fengqiao-gateway"

# Roles
GRID_WORKER = "grid_worker"
DISPATCHER = "dispatcher"
DEPARTMENT_OFFICER = "department_officer"
MEDIATOR = "mediator"
PARTY = "party"
LEADER = "leader"
ADMIN = "admin"
EXTERNAL_SYSTEM = "external_system"
DEPARTMENT_SYSTEM = "department_system"
SERVICE = "service"
DPO = "dpo"  # data-protection officer: searches and exports the audit log (gateway); reads no case data
ALL_ROLES = (
    GRID_WORKER, DISPATCHER, DEPARTMENT_OFFICER, MEDIATOR, PARTY, LEADER, ADMIN, EXTERNAL_SYSTEM,
    DEPARTMENT_SYSTEM, SERVICE, DPO,
)
# Roles that may read personal data (names, phones, ID numbers) in full.
PII_ROLES = frozenset({DISPATCHER, ADMIN, MEDIATOR, DEPARTMENT_OFFICER})


class Principal(BaseModel):
    sub: str = Field(description="user id, API key id or service name")
    kind: Literal["user", "api_key", "service"] = "user"
    name: str | None = None
    roles: list[str] = Field(default_factory=list)
    department: str | None = None
    external_system: str | None = None
    grids: list[str] = Field(default_factory=list)
    mediator_id: str | None = None
    party_id: str | None = None
    request_id: str | None = None

    def has(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def role(self) -> str | None:
        return self.roles[0] if self.roles else None

    @property
    def may_see_pii(self) -> bool:
        return any(r in PII_ROLES for r in self.roles)

    def actor(self) -> dict:
        """Fields for an event's ``Actor``."""
        return {
            "id": self.sub,
            "kind": self.kind,
            "name": self.name,
            "role": self.role,
            "department": self.department,
        }


def mint_identity(principal: Principal, secret: str, ttl: int = 300) -> str:
    now = int(time.time())
    claims = principal.model_dump(exclude_none=True)
    claims.update({"iat": now, "exp": now + ttl, "aud": AUDIENCE, "iss": ISSUER})
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_identity(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    except jwt.PyJWTError as exc:
        raise ApiError(401, "unauthenticated", "身份凭证无效", f"invalid identity token: {exc}") from exc
    for k in ("iat", "exp", "aud", "iss"):
        claims.pop(k, None)
    return Principal.model_validate(claims)


async def current_principal(request: Request) -> Principal:
    token = request.headers.get(IDENTITY_HEADER)
    if not token:
        raise ApiError(401, "unauthenticated", "未认证", "authentication required",
                       headers={"WWW-Authenticate": "Bearer"})
    settings = request.app.state.runtime.settings
    return verify_identity(token, settings.internal_token_secret)


async def optional_principal(request: Request) -> Principal | None:
    if not request.headers.get(IDENTITY_HEADER):
        return None
    return await current_principal(request)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def require_roles(*roles: str):
    """Dependency: the caller must hold one of ``roles`` (admins always pass)."""

    async def dep(principal: CurrentPrincipal) -> Principal:
        if not principal.has(*roles, ADMIN):
            raise ApiError(403, "forbidden", "无权执行此操作", f"requires one of the roles: {', '.join(roles)}")
        return principal

    return Depends(dep)

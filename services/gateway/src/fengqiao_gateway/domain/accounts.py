"""Staff accounts and API-key scopes: the rules, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fengqiao_common.auth import (
    ADMIN,
    DEPARTMENT_OFFICER,
    DEPARTMENT_SYSTEM,
    DISPATCHER,
    DPO,
    EXTERNAL_SYSTEM,
    GRID_WORKER,
    LEADER,
    MEDIATOR,
    PARTY,
    Principal,
)

STAFF_ROLES = (GRID_WORKER, DISPATCHER, DEPARTMENT_OFFICER, MEDIATOR, PARTY, LEADER, ADMIN, DPO)
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{3,64}$")


@dataclass(frozen=True)
class Codes:
    """The jurisdiction's codes an account or key may refer to."""

    departments: frozenset[str]
    grids: frozenset[str]
    systems: frozenset[str]


@dataclass
class Account:
    id: str
    username: str
    display_name: str | None
    roles: list[str]
    department: str | None = None
    grids: list[str] = field(default_factory=list)
    mediator_id: str | None = None
    party_id: str | None = None
    disabled: bool = False

    def principal(self, request_id: str | None = None) -> Principal:
        return Principal(
            sub=self.id, kind="user", name=self.display_name or self.username, roles=list(self.roles),
            department=self.department, grids=list(self.grids), mediator_id=self.mediator_id,
            party_id=self.party_id, request_id=request_id,
        )


@dataclass
class KeyScope:
    id: str
    name: str
    scope_type: str  # "external_system" | "department"
    scope: str

    def principal(self, request_id: str | None = None) -> Principal:
        if self.scope_type == "department":
            return Principal(sub=self.id, kind="api_key", name=self.name, roles=[DEPARTMENT_SYSTEM],
                             department=self.scope, request_id=request_id)
        return Principal(sub=self.id, kind="api_key", name=self.name, roles=[EXTERNAL_SYSTEM],
                         external_system=self.scope, request_id=request_id)


def check_account(roles: list[str], department: str | None, grids: list[str], mediator_id: str | None,
                  party_id: str | None, *, departments: set[str] | frozenset[str],
                  grid_codes: set[str] | frozenset[str]) -> list[dict]:
    """Field errors (bilingual) for an account's role attributes; empty when consistent."""
    from fengqiao_common.errors import field_error

    errs: list[dict] = []
    bad = [r for r in roles if r not in STAFF_ROLES]
    if not roles:
        errs.append(field_error("roles", "missing", "至少需要一个角色", "at least one role is required"))
    if bad:
        errs.append(field_error("roles", "invalid_role", f"未知角色：{', '.join(bad)}",
                                f"unknown role(s): {', '.join(bad)}"))
    if department is not None and department not in departments:
        errs.append(field_error("department", "unknown_department", "部门不存在", f"unknown department {department}"))
    if DEPARTMENT_OFFICER in roles and not department:
        errs.append(field_error("department", "missing", "部门人员必须指定部门",
                                "a department officer needs a department"))
    bad_grids = [g for g in grids if g not in grid_codes]
    if bad_grids:
        errs.append(field_error("grids", "unknown_grid", f"网格不存在：{', '.join(bad_grids)}",
                                f"unknown grid(s): {', '.join(bad_grids)}"))
    if GRID_WORKER in roles and not grids:
        errs.append(field_error("grids", "missing", "网格员必须指定网格", "a grid worker needs at least one grid"))
    if MEDIATOR in roles and not mediator_id:
        errs.append(field_error("mediator_id", "missing", "调解员必须指定调解员编号", "a mediator needs a mediator_id"))
    if PARTY in roles and not party_id:
        errs.append(field_error("party_id", "missing", "当事人必须指定当事人编号", "a party needs a party_id"))
    return errs


def check_scope(scope_type: str, scope: str, *, departments: set[str] | frozenset[str],
                systems: set[str] | frozenset[str]) -> list[dict]:
    from fengqiao_common.errors import field_error

    if scope_type == "department" and scope not in departments:
        return [field_error("scope", "unknown_department", "部门不存在", f"unknown department {scope}")]
    if scope_type == "external_system" and scope not in systems:
        return [field_error("scope", "unknown_external_system", "外部系统不存在", f"unknown external system {scope}")]
    return []


def account_of(row: dict) -> Account:
    """An account from a ``users`` row."""
    return Account(
        id=str(row["id"]), username=row["username"], display_name=row["display_name"], roles=list(row["roles"]),
        department=row["department"], grids=list(row["grids"] or []), mediator_id=row["mediator_id"],
        party_id=row["party_id"], disabled=row["disabled"],
    )


def public_view(a: Account) -> dict:
    """What the logged-in user sees of their own account."""
    return {"id": a.id, "username": a.username, "display_name": a.display_name, "roles": a.roles,
            "department": a.department, "grids": a.grids, "mediator_id": a.mediator_id, "party_id": a.party_id}


def user_view(row: dict) -> dict:
    """A ``users`` row as administrators see it (never the password hash)."""
    return {
        "id": str(row["id"]), "username": row["username"], "display_name": row["display_name"],
        "roles": list(row["roles"]), "department": row["department"], "grids": list(row["grids"] or []),
        "mediator_id": row["mediator_id"], "party_id": row["party_id"], "disabled": row["disabled"],
        "created_at": row["created_at"], "updated_at": row["updated_at"],
    }


def key_view(row: dict) -> dict:
    """An ``api_keys`` row as administrators see it (never the key or its hash)."""
    return {
        "id": str(row["id"]), "name": row["name"], "prefix": row["prefix"], "scope_type": row["scope_type"],
        "scope": row["scope"], "rate_limit_per_minute": row["rate_limit_per_minute"],
        "created_at": row["created_at"], "created_by": row["created_by"], "revoked_at": row["revoked_at"],
        "active": row["revoked_at"] is None,
    }


def key_scope_of(row: dict) -> KeyScope:
    return KeyScope(str(row["id"]), row["name"], row["scope_type"], row["scope"])

"""Administration of staff accounts (admin role, checked by the router)."""

from __future__ import annotations

from typing import Any

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Conflict, Invalid, NotFound, field_error
from fengqiao_common.ids import new_id

from ..adapters.cache import AuthCache
from ..adapters.passwords import Passwords
from ..adapters.uow import GatewayUoW
from ..domain.accounts import Codes, check_account, user_view
from ..domain.audit import Caller, audit_row

USERS_PATH = "/api/v1/admin/users"


def _invalid(errs: list[dict]) -> Invalid:
    return Invalid("请求参数有误", "request validation failed", fields=errs)


async def create_user(uow: GatewayUoW, actor: Principal, cmd: dict, *, passwords: Passwords, codes: Codes,
                      caller: Caller) -> dict:
    """``cmd``: username, password, display_name, roles, department, grids, mediator_id, party_id."""
    data = dict(cmd)
    errs = check_account(data["roles"], data.get("department"), data.get("grids") or [], data.get("mediator_id"),
                         data.get("party_id"), departments=codes.departments, grid_codes=codes.grids)
    if errs:
        raise _invalid(errs)
    pw_hash = await passwords.hash(data.pop("password"))
    uid = new_id()
    async with uow:
        if await uow.users.username_taken(data["username"]):
            raise Conflict("用户名已存在", "username already taken", code="username_taken",
                           fields=[field_error("username", "taken", "用户名已存在", "username already taken")])
        now = uow.now()
        await uow.users.add({"id": uid, "password_hash": pw_hash, "created_at": now, "updated_at": now, **data})
        await uow.audit.add(audit_row(actor, caller, at=now, action="admin.users.create", method="POST",
                                      path=USERS_PATH, object_type="users", object_id=uid, status=201,
                                      detail={"username": data["username"], "roles": data["roles"]}))
        row = await uow.users.get(uid)
        await uow.commit()
    assert row is not None
    return user_view(row)


async def update_user(uow: GatewayUoW, actor: Principal, user_id: str, changes: dict, *, passwords: Passwords,
                      codes: Codes, cache: AuthCache, caller: Caller) -> dict:
    """Change roles, scope, password or the disabled flag; disabling or a new password ends every session."""
    changes = dict(changes)
    password = changes.pop("password", None)
    pw_hash = await passwords.hash(password) if password else None
    async with uow:
        row = await uow.users.get(user_id, lock=True)
        if row is None:
            raise NotFound("user", "用户")
        merged = {**user_view(row), **changes}
        errs = check_account(merged["roles"], merged["department"], merged["grids"], merged["mediator_id"],
                             merged["party_id"], departments=codes.departments, grid_codes=codes.grids)
        if errs:
            raise _invalid(errs)
        now = uow.now()
        values: dict[str, Any] = {**changes, "updated_at": now}
        if pw_hash:
            values["password_hash"] = pw_hash
        await uow.users.update(user_id, values)
        if changes.get("disabled") or pw_hash:
            await uow.sessions.revoke_of_user(user_id, at=now,
                                              reason="disabled" if changes.get("disabled") else "password_reset")
        await uow.audit.add(audit_row(actor, caller, at=now, action="admin.users.update", method="PATCH",
                                      path=f"{USERS_PATH}/{user_id}", object_type="users", object_id=user_id,
                                      status=200, detail={"fields": sorted(changes) + (["password"] if pw_hash else [])}))
        row = await uow.users.get(user_id)
        await uow.commit()
    cache.sessions.clear()  # roles, departments and revocations apply at once on this replica
    assert row is not None
    return user_view(row)


async def list_users(uow: GatewayUoW, *, role: str | None = None, department: str | None = None,
                     q: str | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
    async with uow:
        rows = await uow.users.list(role=role, department=department, q=q, limit=limit, offset=offset)
    return [user_view(r) for r in rows]


async def get_user(uow: GatewayUoW, user_id: str) -> dict:
    async with uow:
        row = await uow.users.get(user_id)
    if row is None:
        raise NotFound("user", "用户")
    return user_view(row)

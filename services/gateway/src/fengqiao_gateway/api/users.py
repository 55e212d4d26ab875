"""/api/v1/admin/users: staff accounts (admin role)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from ..deps import DepsDep
from ..usecases import users as uc
from .access import AdminDep, CallerDep
from .ids import uuid_or_404
from .schemas import UserIn, UserOut, UserPatch

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@router.get("/users", operation_id="admin_list_users", response_model=list[UserOut], summary="Users / 用户列表")
async def list_users(_: AdminDep, deps: DepsDep, role: str | None = None, department: str | None = None,
                     q: str | None = Query(None, max_length=64), limit: int = Query(100, ge=1, le=500),
                     offset: int = Query(0, ge=0, le=1_000_000)):
    return await uc.list_users(deps.uow(), role=role, department=department, q=q, limit=limit, offset=offset)


@router.post("/users", operation_id="admin_create_user", response_model=UserOut, status_code=201,
             summary="Create a user / 新建用户")
async def create_user(body: UserIn, staff: AdminDep, deps: DepsDep, caller: CallerDep):
    return await uc.create_user(deps.uow(), staff.principal, body.model_dump(), passwords=deps.passwords,
                                codes=deps.codes, caller=caller)


@router.get("/users/{user_id}", operation_id="admin_get_user", response_model=UserOut, summary="A user / 用户")
async def get_user(user_id: str, _: AdminDep, deps: DepsDep):
    return await uc.get_user(deps.uow(), uuid_or_404(user_id))


@router.patch("/users/{user_id}", operation_id="admin_update_user", response_model=UserOut,
              summary="Change roles, scope, password; disable (revokes sessions) / 修改用户")
async def update_user(user_id: str, body: UserPatch, staff: AdminDep, deps: DepsDep, caller: CallerDep):
    return await uc.update_user(deps.uow(), staff.principal, uuid_or_404(user_id), body.model_dump(exclude_unset=True),
                                passwords=deps.passwords, codes=deps.codes, cache=deps.cache, caller=caller)

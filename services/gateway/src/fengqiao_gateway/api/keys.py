"""/api/v1/admin/api-keys: keys of external systems and departments' own systems (admin role)."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import DepsDep
from ..usecases import keys as uc
from .access import AdminDep, CallerDep
from .ids import uuid_or_404
from .schemas import KeyCreated, KeyIn, KeyOut

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@router.get("/api-keys", operation_id="admin_list_api_keys", response_model=list[KeyOut],
            summary="API keys / API 密钥列表")
async def list_keys(_: AdminDep, deps: DepsDep, include_revoked: bool = False):
    return await uc.list_keys(deps.uow(), include_revoked=include_revoked)


@router.post("/api-keys", operation_id="admin_create_api_key", response_model=KeyCreated, status_code=201,
             summary="Issue an API key (shown once) / 签发 API 密钥")
async def create_key(body: KeyIn, staff: AdminDep, deps: DepsDep, caller: CallerDep):
    return await uc.create_key(deps.uow(), staff.principal, body.model_dump(), codes=deps.codes, cache=deps.cache,
                               caller=caller)


@router.delete("/api-keys/{key_id}", operation_id="admin_revoke_api_key", response_model=KeyOut,
               summary="Revoke an API key / 吊销 API 密钥")
async def revoke_key(key_id: str, staff: AdminDep, deps: DepsDep, caller: CallerDep):
    return await uc.revoke_key(deps.uow(), staff.principal, uuid_or_404(key_id), cache=deps.cache, caller=caller)

"""Administration of API keys for external systems and departments' own systems."""

from __future__ import annotations

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Invalid, NotFound
from fengqiao_common.ids import new_id

from ..adapters.cache import AuthCache
from ..adapters.uow import GatewayUoW
from ..domain import credentials as cred
from ..domain.accounts import Codes, check_scope, key_view
from ..domain.audit import Caller, audit_row

KEYS_PATH = "/api/v1/admin/api-keys"


async def create_key(uow: GatewayUoW, actor: Principal, cmd: dict, *, codes: Codes, cache: AuthCache,
                     caller: Caller) -> dict:
    """``cmd``: name, scope_type, scope, rate_limit_per_minute. The key is in the answer only (its hash is kept)."""
    errs = check_scope(cmd["scope_type"], cmd["scope"], departments=codes.departments, systems=codes.systems)
    if errs:
        raise Invalid("请求参数有误", "request validation failed", fields=errs)
    key, prefix, digest = cred.new_api_key()
    kid = new_id()
    async with uow:
        now = uow.now()
        await uow.keys.add({"id": kid, "prefix": prefix, "key_hash": digest, "created_by": actor.sub,
                            "created_at": now, **cmd})
        await uow.audit.add(audit_row(actor, caller, at=now, action="admin.api_keys.create", method="POST",
                                      path=KEYS_PATH, object_type="api_keys", object_id=kid, status=201,
                                      detail={"name": cmd["name"], "scope_type": cmd["scope_type"],
                                              "scope": cmd["scope"]}))
        row = await uow.keys.get(kid)
        await uow.commit()
    cache.keys.drop(prefix)  # an earlier miss on this prefix may be cached
    assert row is not None
    return {**key_view(row), "key": key}


async def list_keys(uow: GatewayUoW, *, include_revoked: bool = False) -> list[dict]:
    async with uow:
        rows = await uow.keys.list(include_revoked=include_revoked)
    return [key_view(r) for r in rows]


async def revoke_key(uow: GatewayUoW, actor: Principal, key_id: str, *, cache: AuthCache, caller: Caller) -> dict:
    """Revoke (idempotent: a revoked key is returned unchanged, audited once)."""
    async with uow:
        row = await uow.keys.get(key_id, lock=True)
        if row is None:
            raise NotFound("API key", "API 密钥")
        if row["revoked_at"] is None:
            now = uow.now()
            await uow.keys.revoke(key_id, at=now)
            await uow.audit.add(audit_row(actor, caller, at=now, action="admin.api_keys.revoke", method="DELETE",
                                          path=f"{KEYS_PATH}/{key_id}", object_type="api_keys", object_id=key_id,
                                          status=200))
        row = await uow.keys.get(key_id)
        await uow.commit()
    assert row is not None
    cache.keys.drop(row["prefix"])
    return key_view(row)

"""Webhooks of external systems: register (destination checked), list, delete, deliveries, redeliver."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Conflict, Forbidden, NotFound
from fengqiao_common.ids import new_id

from ..domain import idempotency as idem
from ..domain.egress import EgressRefused
from ..domain.visibility import webhook_owner
from .common import Context, Created, bad

if TYPE_CHECKING:
    from ..adapters.uow import IntakeUoW

SCOPE = "webhook"
DestinationCheck = Callable[[str], Awaitable[None]]  # raises EgressRefused


async def _replayed(uow: IntakeUoW, caller: str, key: str, request_hash: str) -> Created | None:
    hit = await uow.idempotency.lookup(caller, SCOPE, key)
    if hit is None:
        return None
    idem.replay(hit[0], request_hash)
    return Created(await uow.webhooks.get(hit[1]), False)


async def register_webhook(uow: IntakeUoW, principal: Principal, url: str, *, ctx: Context,
                           check_destination: DestinationCheck,
                           idempotency_key: str | None = None) -> Created:
    """The signing secret is in the result (shown once)."""
    key = idempotency_key
    if not ctx.registered_system(principal.external_system):
        raise Forbidden("仅已登记的外部系统可注册回调地址", "only registered external systems register webhooks")
    request_hash = hashlib.sha256(url.encode()).hexdigest()
    if key:
        async with uow:
            if replayed := await _replayed(uow, principal.sub, key, request_hash):
                return replayed
    try:
        await check_destination(url)
    except EgressRefused as exc:
        zh, _, en = str(exc).partition(" / ")
        raise bad("url", zh, en or zh, "destination_not_allowed") from exc
    try:
        async with uow:
            row = {"id": new_id(), "external_system": principal.external_system, "url": url,
                   "secret": "whsec_" + secrets.token_urlsafe(32), "active": True, "created_by": principal.sub,
                   "created_at": uow.now()}
            await uow.webhooks.add(row)
            if key:
                await uow.idempotency.claim(principal.sub, SCOPE, key, request_hash, row["id"])
            await uow.commit()
    except idem.KeyTaken:
        async with uow:
            if replayed := await _replayed(uow, principal.sub, key, request_hash):
                return replayed
        raise
    return Created(row, True)


async def _own(uow: IntakeUoW, principal: Principal, webhook_id: str) -> dict:
    hook = await uow.webhooks.get(webhook_id, webhook_owner(principal))
    if hook is None:
        raise NotFound("webhook", "回调")
    return hook


async def list_webhooks(uow: IntakeUoW, principal: Principal) -> list[dict]:
    async with uow:
        return await uow.webhooks.list(webhook_owner(principal))


async def delete_webhook(uow: IntakeUoW, principal: Principal, webhook_id: str) -> None:
    """Deactivates it (the deliveries stay readable)."""
    async with uow:
        await _own(uow, principal, webhook_id)
        await uow.webhooks.deactivate(webhook_id)
        await uow.commit()


async def list_deliveries(uow: IntakeUoW, principal: Principal, webhook_id: str, *, limit: int) -> list[dict]:
    async with uow:
        await _own(uow, principal, webhook_id)
        return await uow.webhooks.deliveries(webhook_id, limit)


async def redeliver(uow: IntakeUoW, principal: Principal, delivery_id: str) -> dict:
    async with uow:
        row = await uow.webhooks.delivery(delivery_id, lock=True)
        if row is None:
            raise NotFound("delivery", "投递记录")
        await _own(uow, principal, row["webhook_id"])
        if row["status"] == "pending":
            raise Conflict("该投递正在进行中", "the delivery is still pending", code="delivery_pending",
                           status=row["status"])
        await uow.webhooks.update_delivery(delivery_id, status="pending", next_attempt_at=uow.now())
        await uow.commit()
    return row | {"status": "pending"}

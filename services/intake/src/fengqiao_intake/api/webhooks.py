"""/api/v1/webhooks: external systems register a URL for status changes of their cases."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from fengqiao_common.auth import EXTERNAL_SYSTEM, CurrentPrincipal, require_roles

from ..schemas import WebhookIn
from ..usecases import webhooks as uc
from . import DepsDep, IdempotencyKey, replayed
from .schemas import DeliveryOut, RedeliverOut, WebhookCreated, WebhookOut

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], dependencies=[require_roles(EXTERNAL_SYSTEM)])


def _view(w: dict, secret: bool = False) -> dict:
    out = {k: w[k] for k in ("id", "external_system", "url", "active", "created_at")}
    if secret:
        out["secret"] = w["secret"]
    return out


def _delivery(r: dict) -> dict:
    out = {k: r[k] for k in ("id", "webhook_id", "event_id", "case_id", "status", "attempts", "next_attempt_at",
                             "last_status_code", "last_error", "created_at", "delivered_at")}
    out["attempt_log"] = [{k: a[k] for k in ("attempt", "at", "status_code", "error", "duration_ms")}
                          for a in r.get("attempt_log", [])]
    return out


@router.post("", status_code=201, operation_id="register_webhook", response_model=WebhookCreated,
             summary="Register a URL; the signing secret is shown once")
async def register(body: WebhookIn, response: Response, d: DepsDep, principal: CurrentPrincipal,
                   idempotency_key: IdempotencyKey = None):
    result = await uc.register_webhook(d.uow(), principal, body.url, ctx=d.ctx,
                                       check_destination=d.check_destination, idempotency_key=idempotency_key)
    replayed(response, result.created)
    return _view(result.item, secret=True)


@router.get("", operation_id="list_webhooks", response_model=list[WebhookOut])
async def list_hooks(d: DepsDep, principal: CurrentPrincipal):
    return [_view(w) for w in await uc.list_webhooks(d.uow(), principal)]


@router.delete("/{webhook_id}", status_code=204, operation_id="delete_webhook", response_class=Response)
async def delete(webhook_id: str, d: DepsDep, principal: CurrentPrincipal) -> None:
    await uc.delete_webhook(d.uow(), principal, webhook_id)


@router.get("/{webhook_id}/deliveries", operation_id="list_webhook_deliveries", response_model=list[DeliveryOut],
            summary="Deliveries with every attempt logged")
async def deliveries(webhook_id: str, d: DepsDep, principal: CurrentPrincipal,
                     limit: int = Query(100, ge=1, le=1000)):
    return [_delivery(r) for r in await uc.list_deliveries(d.uow(), principal, webhook_id, limit=limit)]


@router.post("/deliveries/{delivery_id}/redeliver", operation_id="redeliver_webhook", response_model=RedeliverOut,
             summary="Send a delivery again")
async def redeliver(delivery_id: str, d: DepsDep, principal: CurrentPrincipal):
    row = await uc.redeliver(d.uow(), principal, delivery_id)
    return {"id": row["id"], "status": row["status"]}

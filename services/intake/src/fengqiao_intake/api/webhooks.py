"""/api/v1/webhooks: external systems register a URL for status changes of their cases."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from fengqiao_common.auth import EXTERNAL_SYSTEM, CurrentPrincipal, require_roles
from fengqiao_common.db import Session

from .. import service
from ..schemas import WebhookIn
from . import AppDeps, IdempotencyKey

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


@router.post("", status_code=201, operation_id="register_webhook",
             summary="Register a URL; the signing secret is shown once")
async def register(body: WebhookIn, response: Response, session: Session, d: AppDeps, principal: CurrentPrincipal,
                   idempotency_key: IdempotencyKey = None):
    row, created = await service.register_webhook(session, d, principal, body.url, idempotency_key)
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return _view(row, secret=True)


@router.get("", operation_id="list_webhooks")
async def list_hooks(session: Session, principal: CurrentPrincipal):
    return [_view(w) for w in await service.list_webhooks(session, principal)]


@router.delete("/{webhook_id}", status_code=204, operation_id="delete_webhook")
async def delete(webhook_id: str, session: Session, principal: CurrentPrincipal):
    await service.delete_webhook(session, principal, webhook_id)


@router.get("/{webhook_id}/deliveries", operation_id="list_webhook_deliveries",
            summary="Deliveries with every attempt logged")
async def deliveries(webhook_id: str, session: Session, principal: CurrentPrincipal,
                     limit: int = Query(100, ge=1, le=1000)):
    return [_delivery(r) for r in await service.list_deliveries(session, principal, webhook_id, limit)]


@router.post("/deliveries/{delivery_id}/redeliver", operation_id="redeliver_webhook",
             summary="Send a delivery again")
async def redeliver(delivery_id: str, session: Session, principal: CurrentPrincipal):
    row = await service.redeliver(session, principal, delivery_id)
    return {"id": row["id"], "status": row["status"]}

"""/api/v1/orders: a department's inbox and its actions on an order; the centre verifies."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fengqiao_common.auth import (
    ADMIN,
    DEPARTMENT_OFFICER,
    DEPARTMENT_SYSTEM,
    DISPATCHER,
    CurrentPrincipal,
    Principal,
    require_roles,
)

from .. import service
from . import schemas

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
Department = Annotated[Principal, require_roles(DEPARTMENT_OFFICER, DEPARTMENT_SYSTEM)]
Centre = Annotated[Principal, require_roles(DISPATCHER)]
OrderId = Annotated[str, Path(pattern=schemas.ID_PATTERN)]
Status = Literal["dispatched", "signed", "on_site", "in_progress", "resolved", "verified", "returned", "cancelled"]


def rt(request: Request):
    return request.app.state.runtime


@router.get("", operation_id="list_orders", summary="Orders: a department's own inbox, or all for the centre")
async def list_orders(request: Request, principal: CurrentPrincipal, status: Status | None = None,
                      department: Annotated[str | None, Query(pattern=schemas.ID_PATTERN)] = None,
                      case_id: Annotated[str | None, Query(pattern=schemas.ID_PATTERN)] = None,
                      limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0):
    return await service.list_orders(rt(request), principal, status=status, department=department, case_id=case_id,
                                     limit=limit, offset=offset)


@router.get("/{order_id}", operation_id="get_order", summary="One order with its history")
async def get_order(request: Request, order_id: OrderId, principal: CurrentPrincipal):
    return await service.order_view(rt(request), order_id, principal)


@router.post("/{order_id}/sign-for", operation_id="sign_for_order", summary="Sign for an order (签收)")
async def sign_for(request: Request, order_id: OrderId, principal: Department, body: schemas.SignFor | None = None):
    return await service.sign_for(rt(request), order_id, principal, body.officer if body else None)


@router.post("/{order_id}/check-in", operation_id="check_in_order", summary="Report on site (报到)")
async def check_in(request: Request, order_id: OrderId, principal: Department, body: schemas.CheckIn):
    return await service.check_in(rt(request), order_id, principal, body.officer, body.location)


@router.post("/{order_id}/progress", operation_id="progress_order", summary="Record progress (notes, photos)")
async def progress(request: Request, order_id: OrderId, principal: Department, body: schemas.Progress):
    return await service.progress(rt(request), order_id, principal, body.note, body.attachments)


@router.post("/{order_id}/resolve", operation_id="resolve_order", summary="Report the result (办结)")
async def resolve(request: Request, order_id: OrderId, principal: Department, body: schemas.Resolve):
    return await service.resolve(rt(request), order_id, principal, body.result, body.evidence)


@router.post("/{order_id}/return", operation_id="return_order", summary="Return the order with a reason (退单)")
async def return_order(request: Request, order_id: OrderId, principal: Department, body: schemas.Return):
    return await service.return_order(rt(request), order_id, principal, body.reason)


@router.post("/{order_id}/verify", operation_id="verify_order", summary="The centre verifies a result (核验)")
async def verify(request: Request, order_id: OrderId, principal: Centre, body: schemas.Verify | None = None):
    body = body or schemas.Verify()
    return await service.verify(rt(request), order_id, principal, body.accepted, body.comment)


__all__ = ["ADMIN", "router"]

"""/api/v1/orders: a department's inbox and its actions on an order; the centre verifies."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fengqiao_common.auth import (
    DEPARTMENT_OFFICER,
    DEPARTMENT_SYSTEM,
    DISPATCHER,
    CurrentPrincipal,
    Principal,
    require_roles,
)

from ..deps import DepsDep
from ..usecases import commands as c
from ..usecases import orders as uc
from ..usecases import reads
from . import schemas
from .views import OrderOut, OrderView

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
Department = Annotated[Principal, require_roles(DEPARTMENT_OFFICER, DEPARTMENT_SYSTEM)]
Centre = Annotated[Principal, require_roles(DISPATCHER)]
OrderId = Annotated[str, Path(pattern=schemas.ID_PATTERN)]
Status = Literal["dispatched", "signed", "on_site", "in_progress", "resolved", "verified", "returned", "cancelled"]


@router.get("", operation_id="list_orders", summary="Orders: a department's own inbox, or all for the centre")
async def list_orders(deps: DepsDep, principal: CurrentPrincipal, status: Status | None = None,
                      department: Annotated[str | None, Query(pattern=schemas.ID_PATTERN)] = None,
                      case_id: Annotated[str | None, Query(pattern=schemas.ID_PATTERN)] = None,
                      limit: Annotated[int, Query(ge=1, le=500)] = 100,
                      offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> list[OrderOut]:
    return await reads.list_orders(deps.uow(), principal, c.OrderQuery(status=status, department=department,
                                                                        case_id=case_id, limit=limit, offset=offset))


@router.get("/{order_id}", operation_id="get_order", summary="One order with its history")
async def get_order(deps: DepsDep, order_id: OrderId, principal: CurrentPrincipal) -> OrderView:
    return await reads.order_view(deps.uow(), principal, order_id)


@router.post("/{order_id}/sign-for", operation_id="sign_for_order", summary="Sign for an order (签收)")
async def sign_for(deps: DepsDep, order_id: OrderId, principal: Department,
                   body: schemas.SignFor | None = None) -> OrderOut:
    return await uc.sign_for(deps.uow(), principal, c.SignFor(order_id, body.officer if body else None))


@router.post("/{order_id}/check-in", operation_id="check_in_order", summary="Report on site (报到)")
async def check_in(deps: DepsDep, order_id: OrderId, principal: Department, body: schemas.CheckIn) -> OrderOut:
    return await uc.check_in(deps.uow(), principal, c.CheckIn(order_id, body.location, body.officer))


@router.post("/{order_id}/progress", operation_id="progress_order", summary="Record progress (notes, photos)")
async def progress(deps: DepsDep, order_id: OrderId, principal: Department, body: schemas.Progress) -> OrderOut:
    return await uc.progress(deps.uow(), principal, c.Progress(order_id, body.note, body.attachments))


@router.post("/{order_id}/resolve", operation_id="resolve_order", summary="Report the result (办结)")
async def resolve(deps: DepsDep, order_id: OrderId, principal: Department, body: schemas.Resolve) -> OrderOut:
    return await uc.resolve(deps.uow(), principal, c.Resolve(order_id, body.result, body.evidence))


@router.post("/{order_id}/return", operation_id="return_order", summary="Return the order with a reason (退单)")
async def return_order(deps: DepsDep, order_id: OrderId, principal: Department, body: schemas.Return) -> OrderOut:
    return await uc.return_order(deps.uow(), principal, c.Return(order_id, body.reason))


@router.post("/{order_id}/verify", operation_id="verify_order", summary="The centre verifies a result (核验)")
async def verify(deps: DepsDep, order_id: OrderId, principal: Centre, body: schemas.Verify | None = None) -> OrderOut:
    body = body or schemas.Verify()
    return await uc.verify(deps.uow(), principal, c.Verify(order_id, body.accepted, body.comment))
